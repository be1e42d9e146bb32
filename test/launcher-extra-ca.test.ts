// The `tsbuild` launcher moves NODE_EXTRA_CA_CERTS out of Node's start-up
// (where Node 20 parses it for every command) to the first TLS connection:
// a server whose certificate only that file's CA vouches for must still be
// trusted, and nothing else.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildSkipReason, PROJECT_ROOT, tempDir } from './helpers/cli.js';
import { runIf } from './helpers/skip.js';
import { makeCerts, opensslSkipReason } from './helpers/tls-certs.js';

const LAUNCHER = path.join(PROJECT_ROOT, 'bin', 'tsbuild');
const it = runIf(opensslSkipReason());
const itBuilds = runIf(opensslSkipReason() ?? buildSkipReason());

interface Run { code: number; stdout: string; stderr: string }

function launch(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const base = { ...process.env };
    delete base.NODE_EXTRA_CA_CERTS;
    delete base.TSBUILD_EXTRA_CA_CERTS;
    execFile(LAUNCHER, args, { env: { ...base, CI: 'true', NO_COLOR: '1', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function serveOverTls(dir: string): Promise<{ url: string; close(): void }> {
  const certs = makeCerts(dir);
  const server = https.createServer({ cert: await readFile(certs.serverCert), key: await readFile(certs.serverKey) }, (req, res) => {
    res.setHeader('Last-Modified', new Date(Date.UTC(2020, 0, 2)).toUTCString());
    res.end(req.url === '/hello.txt' ? 'hello over tls\n' : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

itBuilds('ADD of an https URL trusts the CA named by NODE_EXTRA_CA_CERTS, loaded only when needed', async (t) => {
  const dir = await tempDir('tsbuild-extra-ca-');
  const server = await serveOverTls(dir);
  t.teardown(() => server.close());
  await writeFile(path.join(dir, 'Dockerfile'), `FROM scratch\nADD ${server.url}/hello.txt /hello.txt\n`);
  const build = (dest: string, env: NodeJS.ProcessEnv) =>
    launch(['build', '--progress=plain', '-f', path.join(dir, 'Dockerfile'), '-o', `type=local,dest=${dest}`, dir], { TSBUILD_ROOT: path.join(dir, 'store'), ...env });

  const trusted = await build(path.join(dir, 'out'), { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') });
  t.is(trusted.code, 0, trusted.stderr);
  t.is(await readFile(path.join(dir, 'out', 'hello.txt'), 'utf8'), 'hello over tls\n');

  // Without the file, the same server is refused: trust comes from the file, not from skipping checks.
  const untrusted = await build(path.join(dir, 'out2'), {});
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /failed to download .*hello\.txt: .*certificate/);

  // An unreadable file: Node's warning, then the defaults (which refuse this server).
  const missing = await build(path.join(dir, 'out3'), { NODE_EXTRA_CA_CERTS: path.join(dir, 'no-such.pem') });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /Ignoring extra certs from `.*no-such\.pem`, load failed/);
});

it('the launcher hands the path over instead of letting Node parse it at start', async (t) => {
  const dir = await tempDir('tsbuild-extra-ca-');
  // Node warns at start about a file it cannot read; a command that opens no TLS connection never reads it.
  const r = await launch(['--version'], { NODE_EXTRA_CA_CERTS: path.join(dir, 'no-such.pem') });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /\d+\.\d+\.\d+/);
  t.notRegex(r.stderr, /extra certs/);
});
