// TCP with mutual TLS: certificates made by openssl; a client with a
// certificate of the server's CA builds, one with another CA's certificate
// or none is refused before any work; off loopback the server will not
// listen without TLS.
import test from 'ava';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { buildSkipReason, freshStore, tsbuild, tempDir } from './helpers/cli.js';
import { startServe, type TestServer } from './helpers/serve.js';
import { makeCerts, opensslSkipReason, type TestCerts } from './helpers/tls-certs.js';
import { makeContext } from './e2e-image-helpers.js';

const skip = buildSkipReason() ?? opensslSkipReason();
const it = skip ? test.skip : test;
if (skip) test.skip(`server over TLS (skipped: ${skip})`, () => {});

let store: Awaited<ReturnType<typeof freshStore>>;
let server: TestServer;
let certs: TestCerts;
let host: string;

test.before(async () => {
  if (skip) return;
  store = await freshStore();
  certs = makeCerts(await tempDir('tsbuild-certs-'));
  server = await startServe(store.root, ['--addr', 'tcp://127.0.0.1:0', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey]);
  host = server.addresses[0]!;
});
test.after.always(async () => {
  await server?.stop();
  await store?.dispose();
});

const client = async (args: string[], cert = certs.clientCert, key = certs.clientKey) =>
  tsbuild(['--host', host, '--tlsverify', '--tlscacert', certs.ca, '--tlscert', cert, '--tlskey', key, ...args], { root: await tempDir('tsbuild-client-') });

it('a client with a certificate of the CA builds and gets its files back', async (t) => {
  t.regex(host, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nCOPY note.txt /note.txt\nRUN echo tls-built >> /note.txt\n', 'note.txt': 'from the client\n' });
  const out = path.join(await tempDir(), 'out');
  const r = await client(['build', '--progress', 'plain', '-t', 'tls-app:v1', '-o', `type=local,dest=${out}`, ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(await readFile(path.join(out, 'note.txt'), 'utf8'), 'from the client\ntls-built\n');
  const v = await client(['version']);
  t.regex(v.stdout, /Server: tsbuild [\d.]+ \(tcp:\/\/127\.0\.0\.1:\d+, protocol v\d+\)/);
});

it('a certificate of another CA is refused, and so is a client without one', async (t) => {
  const wrong = await client(['images'], certs.wrongCert, certs.wrongKey);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^ERROR: .*(certificate|alert|reset|closed)/im);
  t.notRegex(wrong.stdout, /REPOSITORY/);
  const none = await tsbuild(['--host', host, '--tlscacert', certs.ca, 'images'], { root: await tempDir() });
  t.is(none.code, 1);
  t.regex(none.stderr, /^ERROR: /m);
  // Plain HTTP/2 on the TLS port gets nowhere either.
  const plain = await tsbuild(['--host', host, 'images'], { root: await tempDir() });
  t.is(plain.code, 1);
  // The server kept serving the good client.
  const ok = await client(['images']);
  t.is(ok.code, 0, ok.stderr);
});

it('refuses to listen off loopback without TLS, and TLS without a CA to verify clients', async (t) => {
  const root = await tempDir();
  const open = await tsbuild(['serve', '--addr', 'tcp://0.0.0.0:0'], { root });
  t.is(open.code, 1);
  t.regex(open.stderr, /^ERROR: refusing to listen on tcp:\/\/0\.0\.0\.0:0 without TLS/);
  const noCa = await tsbuild(['serve', '--addr', 'tcp://0.0.0.0:0', '--tlscert', certs.serverCert, '--tlskey', certs.serverKey], { root });
  t.is(noCa.code, 1);
  t.regex(noCa.stderr, /TLS needs all of --tlscacert/);
});
