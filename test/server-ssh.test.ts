// ssh://: a real sshd on loopback runs `tsbuild serve --stdio` for the
// client (ssh2), which hands the bytes to the running server's socket, or
// serves the connection itself when no server runs. Host keys are checked
// against known_hosts: unknown and changed keys are refused.
import test from 'ava';
import path from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { buildSkipReason, freshStore, tsbuild, tempDir, TSBUILD_BIN } from './helpers/cli.js';
import { startServe, type TestServer } from './helpers/serve.js';
import { sshdSkipReason, startSshd, type TestSshd } from './helpers/sshd.js';
import { makeContext } from './e2e-image-helpers.js';

const skip = buildSkipReason() ?? sshdSkipReason();
const it = skip ? test.skip : test.serial;
if (skip) test.skip(`server over ssh (skipped: ${skip})`, () => {});

let store: Awaited<ReturnType<typeof freshStore>>;
let server: TestServer;
let sshd: TestSshd;
let sock: string;
let home: string;

test.before(async () => {
  if (skip) return;
  store = await freshStore();
  sock = path.join(await tempDir('tsbuild-sock-'), 'tsbuild.sock');
  server = await startServe(store.root, ['--addr', `unix://${sock}`]);
  sshd = await startSshd(await tempDir('tsbuild-sshd-'));
  home = await tempDir('tsbuild-home-');
  await mkdir(path.join(home, '.ssh'), { mode: 0o700 });
});
test.after.always(async () => {
  sshd?.stop();
  await server?.stop();
  await store?.dispose();
});

// sshd gives the remote command a minimal environment: everything it needs is on its command line.
const remoteCommand = (extra = '') => `env TSBUILD_ROOT=${store.root} ${process.execPath} ${TSBUILD_BIN} serve --stdio ${extra}`;

async function viaSsh(args: string[], opts: { accept?: boolean; command?: string } = {}) {
  const global = ['--host', `ssh://root@127.0.0.1:${sshd.port}`, '--ssh-identity', sshd.clientKey, '--ssh-command', opts.command ?? remoteCommand(`--addr unix://${sock}`)];
  if (opts.accept) global.push('--ssh-accept-new-host-key');
  return tsbuild([...global, ...args], { root: await tempDir('tsbuild-client-'), env: { HOME: home, SSH_AUTH_SOCK: '' } });
}

it('an unknown host key is refused; accepted explicitly it is added to known_hosts', async (t) => {
  const refused = await viaSsh(['version']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^ERROR: the host key of \[127\.0\.0\.1\]:\d+ \(SHA256:\S+\) is not in .*known_hosts: refusing to connect/m);
  const accepted = await viaSsh(['version'], { accept: true });
  t.is(accepted.code, 0, accepted.stderr);
  t.regex(accepted.stdout, /Server: tsbuild [\d.]+ \(ssh:\/\/root@127\.0\.0\.1:\d+, protocol v\d+\)/);
  const known = await readFile(path.join(home, '.ssh', 'known_hosts'), 'utf8');
  t.true(known.includes(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`));
});

it('builds through ssh:// into the running server and streams type=local back', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nCOPY app.txt /srv/app.txt\nRUN echo via-ssh >> /srv/app.txt\nENV MODE=ssh\n', 'app.txt': 'payload\n' });
  const out = path.join(await tempDir(), 'out');
  const r = await viaSsh(['build', '--progress', 'plain', '-t', 'ssh-app:v1', '-o', 'type=image', '-o', `type=local,dest=${out}`, ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(await readFile(path.join(out, 'srv/app.txt'), 'utf8'), 'payload\nvia-ssh\n');
  // It landed in the server's store, seen through the server's socket directly.
  const inspect = await tsbuild(['--host', `unix://${sock}`, 'inspect', 'ssh-app:v1'], { root: await tempDir() });
  t.is(inspect.code, 0, inspect.stderr);
  t.true((JSON.parse(inspect.stdout) as { Config: { Env: string[] } }[])[0]!.Config.Env.includes('MODE=ssh'));
});

it('without a running server, serve --stdio serves the connection itself', async (t) => {
  const r = await viaSsh(['images'], { command: remoteCommand(`--addr unix://${path.join(await tempDir(), 'none.sock')}`) });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /busybox\s+latest/);
});

it('a changed host key is refused', async (t) => {
  const file = path.join(home, '.ssh', 'known_hosts');
  const saved = await readFile(file, 'utf8');
  const other = (await readFile(path.join(path.dirname(sshd.clientKey), 'client_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  await writeFile(file, `[127.0.0.1]:${sshd.port} ${other}\n`);
  try {
    const r = await viaSsh(['version'], { accept: true });
    t.is(r.code, 1);
    t.regex(r.stderr, /the host key of \[127\.0\.0\.1\]:\d+ has CHANGED/);
  } finally {
    await writeFile(file, saved);
  }
});
