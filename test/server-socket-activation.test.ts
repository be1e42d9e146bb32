// `tsbuild serve --addr fd://` under systemd socket activation: the sockets
// come bound already (here python3 binds them and execs the server, keeping
// its pid, as systemd does), and the server's policy still holds for them:
// a TCP socket off loopback is refused without TLS and served with it; a
// unix socket is served as the socket the unit names, also by a user's
// server, which hands the sockets into its rootless user namespace.
import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, TSBUILD_BIN } from './helpers/paths.js';
import { tempDir, tsbuild } from './helpers/cli.js';
import { runIf, toolMissing } from './helpers/skip.js';
import { makeCerts, opensslSkipReason } from './helpers/tls-certs.js';
import { createTestUser, rootlessSkipReason } from './helpers/unprivileged-user.js';
import { chmod } from 'node:fs/promises';

const it = runIf(toolMissing('python3') ?? opensslSkipReason());

// Binds the socket, puts it at fd 3 and execs `tsbuild serve` with LISTEN_FDS/LISTEN_PID.
const ACTIVATE = `
import os, socket, sys
family, where = sys.argv[1], sys.argv[2]
if family == 'unix':
    s = socket.socket(socket.AF_UNIX); s.bind(where)
else:
    s = socket.socket(socket.AF_INET); s.bind((where, 0))
s.listen(16)
sys.stderr.write('bound %s\\n' % (s.getsockname(),)); sys.stderr.flush()
os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
os.environ['LISTEN_FDS'] = '1'; os.environ['LISTEN_PID'] = str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
`;

interface Activated { port?: number; exit: Promise<number | null>; log(): string; stop(): void; serving: Promise<boolean> }

/** `asUser`: the command prefix that runs it as another user (runuser ... env -i ...). */
function activate(family: 'unix' | 'tcp', where: string, root: string, serveArgs: string[], asUser: string[] = []): Activated {
  const [cmd, ...pre] = [...asUser, 'python3'];
  const child = spawn(cmd!, [...pre, '-c', ACTIVATE, family, where, process.execPath, TSBUILD_BIN, 'serve', '--addr', 'fd://', ...serveArgs], {
    cwd: PROJECT_ROOT, env: { ...process.env, TSBUILD_ROOT: root }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  const result: Activated = {
    exit: new Promise((resolve) => child.once('exit', resolve)),
    log: () => text,
    stop: () => void child.kill('SIGTERM'),
    serving: new Promise((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString();
        const port = /bound \('[\d.]+', (\d+)\)/.exec(text);
        if (port) result.port = Number(port[1]);
        if (/serving on fd:\/\/3/.test(text)) resolve(true);
      });
      child.once('exit', () => resolve(false));
    }),
  };
  return result;
}

it('a unix socket from systemd is served', async (t) => {
  const dir = await tempDir('tsbuild-activation-');
  const sock = path.join(dir, 'tsbuild.sock');
  const server = activate('unix', sock, path.join(dir, 'store'), []);
  t.teardown(() => server.stop());
  t.true(await server.serving, server.log());
  const v = await tsbuild(['--host', `unix://${sock}`, 'version'], { root: path.join(dir, 'client') });
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /^Server: tsbuild \S+ \(unix:\/\/.*tsbuild\.sock, protocol v\d+\)$/m);
});

it('a TCP socket off loopback is refused without TLS, and served with mutual TLS', async (t) => {
  const dir = await tempDir('tsbuild-activation-');
  const bare = activate('tcp', '0.0.0.0', path.join(dir, 'store'), []);
  t.teardown(() => bare.stop());
  t.false(await bare.serving, 'a plain server on 0.0.0.0 must not start');
  t.not(await bare.exit, 0);
  t.regex(bare.log(), /refusing to serve fd:\/\/3 \(tcp:\/\/0\.0\.0\.0:\d+\) without TLS/);

  const certs = makeCerts(dir);
  const secured = activate('tcp', '0.0.0.0', path.join(dir, 'store'), ['--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey]);
  t.teardown(() => secured.stop());
  t.true(await secured.serving, secured.log());
  const host = `tcp://127.0.0.1:${secured.port}`;
  const tls = ['--tlsverify', '--tlscacert', certs.ca];
  const ok = await tsbuild(['--host', host, ...tls, '--tlscert', certs.clientCert, '--tlskey', certs.clientKey, 'version'], { root: path.join(dir, 'client') });
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /^Server: tsbuild /m);
  const wrong = await tsbuild(['--host', host, ...tls, '--tlscert', certs.wrongCert, '--tlskey', certs.wrongKey, 'version'], { root: path.join(dir, 'client') });
  t.not(wrong.code, 0, 'a client certificate from another CA is refused');
});

const rootless = runIf(toolMissing('python3') ?? rootlessSkipReason());
rootless('a user\'s server (rootless) serves the socket systemd passed it, from inside its user namespace', async (t) => {
  const user = await createTestUser();
  t.teardown(() => user.remove());
  const dir = await tempDir('tsbuild-activation-');
  await chmod(dir, 0o777);
  const sock = path.join(dir, 'tsbuild.sock');
  const env = ['PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', `HOME=${user.home}`, 'CI=true'];
  const server = activate('unix', sock, path.join(user.home, 'store'), [], ['runuser', '-u', user.name, '--', 'env', '-i', ...env]);
  t.teardown(() => server.stop());
  t.true(await server.serving, server.log());
  const v = await tsbuild(['--host', `unix://${sock}`, 'version'], { root: path.join(dir, 'client') });
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /^Server: tsbuild /m);
});
