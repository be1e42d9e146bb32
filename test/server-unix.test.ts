// End to end over a unix socket: a real `tsbuild serve` and real
// `tsbuild --host unix://... build` clients; results are checked inside the
// image (streamed-back type=local and type=oci, the server's store).
import test from 'ava';
import path from 'node:path';
import http2 from 'node:http2';
import net from 'node:net';
import { readFile, stat } from 'node:fs/promises';
import { buildSkipReason, freshStore, tsbuild, tempDir } from './helpers/cli.js';
import { startServe, type TestServer } from './helpers/serve.js';
import { makeContext, readOciTar, readTar } from './e2e-image-helpers.js';
import { PROTOCOL_VERSIONS } from '../builder/remote/protocol.js';

const skip = buildSkipReason();
if (skip) test.skip(`server over a unix socket (skipped: ${skip})`, () => {});
const it = skip ? test.skip : test;
const suite = { store: undefined as unknown as Awaited<ReturnType<typeof freshStore>> };
let server: TestServer;
let host: string;

test.before(async () => {
  if (skip) return;
  suite.store = await freshStore();
  const sock = path.join(await tempDir('tsbuild-sock-'), 'tsbuild.sock');
  server = await startServe(suite.store.root, ['--addr', `unix://${sock}`]);
  host = `unix://${sock}`;
});
test.after.always(async () => {
  await server?.stop();
  await suite.store?.dispose();
});

// The client runs with a store of its own that it must never touch.
async function remote(args: string[], env: NodeJS.ProcessEnv = {}) {
  const clientRoot = await tempDir('tsbuild-client-');
  return tsbuild(['--host', host, ...args], { root: clientRoot, env });
}

const DOCKERFILE = `FROM busybox:latest
ARG WHO=world
WORKDIR /app
COPY greet.sh ./
RUN echo "hello \${WHO}" > greeting.txt
LABEL org.example.who=\${WHO}
CMD ["/app/greet.sh"]
`;

it('builds to the server store (type=image) with plain progress, and the store commands see it', async (t) => {
  const ctx = await makeContext({ Dockerfile: DOCKERFILE, 'greet.sh': { content: '#!/bin/sh\ncat greeting.txt\n', mode: 0o755 } });
  const r = await remote(['build', '--progress', 'plain', '-t', 'remote-app:v1', '--build-arg', 'WHO=server', ctx]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /#\d+ \[internal\] load build context/);
  t.regex(r.stderr, /RUN echo "hello server" > greeting.txt/);
  t.regex(r.stderr, /naming to docker.io\/library\/remote-app:v1 done/);
  const images = await remote(['images']);
  t.is(images.code, 0, images.stderr);
  t.regex(images.stdout, /remote-app\s+v1/);
  const inspect = await remote(['inspect', 'remote-app:v1']);
  t.is(inspect.code, 0, inspect.stderr);
  const [info] = JSON.parse(inspect.stdout) as { Config: { Cmd: string[]; Labels: Record<string, string> } }[];
  t.deepEqual(info!.Config.Cmd, ['/app/greet.sh']);
  t.is(info!.Config.Labels['org.example.who'], 'server');
  // The server's store is the one it was started on: the local CLI sees the image there.
  const local = await tsbuild(['history', 'remote-app:v1'], { root: suite.store.root });
  t.regex(local.stdout, /RUN \/bin\/sh -c echo "hello \$\{WHO\}"|echo "hello/);
});

it('streams type=local and type=oci outputs back and writes --iidfile and --metadata-file on the client', async (t) => {
  const ctx = await makeContext({ Dockerfile: DOCKERFILE, 'greet.sh': { content: '#!/bin/sh\ncat greeting.txt\n', mode: 0o755 } });
  const out = await tempDir('tsbuild-out-');
  const rootfs = path.join(out, 'rootfs');
  const oci = path.join(out, 'image.tar');
  const r = await remote(['build', '-q', '-o', `type=local,dest=${rootfs}`, '-o', `type=oci,dest=${oci}`, '--iidfile', path.join(out, 'iid'), '--metadata-file', path.join(out, 'meta.json'), ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(await readFile(path.join(rootfs, 'app/greeting.txt'), 'utf8'), 'hello world\n');
  t.is((await stat(path.join(rootfs, 'app/greet.sh'))).mode & 0o777, 0o755);
  const img = await readOciTar(oci);
  t.deepEqual(img.config.config?.Cmd, ['/app/greet.sh']);
  const lastLayer = await readTar(img.layers[img.layers.length - 1]!);
  t.true(lastLayer.some((e) => e.name === 'app/greeting.txt'));
  const iid = await readFile(path.join(out, 'iid'), 'utf8');
  t.is(iid, img.configDigest);
  t.is(r.stdout.trim(), iid);
  const meta = JSON.parse(await readFile(path.join(out, 'meta.json'), 'utf8')) as Record<string, string>;
  t.is(meta['containerimage.config.digest'], iid);
});

it('a failing RUN exits 1 with the step and its output, as a local build does; rawjson progress streams records', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo boom-output && exit 3\n' });
  const r = await remote(['build', '--progress', 'rawjson', ctx]);
  t.is(r.code, 1);
  // buildx's SolveStatus records, as a local --progress=rawjson prints them.
  type Record = { logs?: { data: string }[]; vertexes?: { error?: string }[] };
  const records = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record);
  t.true(records.some((x) => x.logs?.some((l) => Buffer.from(l.data, 'base64').toString().includes('boom-output'))));
  t.true(records.some((x) => x.vertexes?.some((v) => /exit code: 3/.test(v.error ?? ''))));
  t.regex(r.stderr, /ERROR: .*did not complete successfully: exit code: 3/);
  const bad = await remote(['build', await makeContext({ Dockerfile: 'FROM busybox:latest\nNOTANINSTRUCTION x\n' })]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /unknown instruction/i);
});

it('secrets come from the client for the build only', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok)" = "s3cret-value" && echo ok > /ok\n' });
  const good = await remote(['build', '--secret', 'id=tok,env=TOK', '-o', `type=local,dest=${path.join(await tempDir(), 'out')}`, ctx], { TOK: 's3cret-value' });
  t.is(good.code, 0, good.stderr);
  const wrong = await remote(['build', '--no-cache', '--secret', 'id=tok,env=TOK', ctx], { TOK: 'other' });
  t.is(wrong.code, 1);
});

it('refuses a client speaking another protocol version with one line naming both', async (t) => {
  const session = http2.connect('http://tsbuild', { createConnection: () => net.connect(host.slice('unix://'.length)) });
  const req = session.request({ ':path': '/v1/hello', 'tsbuild-protocol': '99' });
  req.end();
  let body = '';
  for await (const c of req) body += c;
  session.close();
  const { error } = JSON.parse(body) as { error: string };
  t.regex(error, new RegExp(`protocol version mismatch: the client speaks v99, the server \\(tsbuild [\\d.]+\\) speaks v${PROTOCOL_VERSIONS.join(', v')}$`));
});

it("the hello names the version picked for the connection, not the server's newest", async (t) => {
  const oldest = Math.min(...PROTOCOL_VERSIONS);
  const session = http2.connect('http://tsbuild', { createConnection: () => net.connect(host.slice('unix://'.length)) });
  const req = session.request({ ':path': '/v1/hello', 'tsbuild-protocol': `${oldest},99` });
  req.end();
  let body = '';
  for await (const c of req) body += c;
  session.close();
  const hello = JSON.parse(body) as { protocol: number; protocols: number[] };
  t.is(hello.protocol, oldest);
  t.deepEqual(hello.protocols, [...PROTOCOL_VERSIONS]);
});

it('a client sending garbage or a malformed build request leaves the server serving', async (t) => {
  const sockPath = host.slice('unix://'.length);
  await new Promise<void>((resolve) => {
    const s = net.connect(sockPath, () => s.write(Buffer.from('GARBAGE\r\n\r\nnot http2 at all'.repeat(100))));
    // The server answers with a GOAWAY (or just closes): either way this client is done.
    s.on('data', () => s.destroy());
    setTimeout(() => s.destroy(), 5000);
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  const session = http2.connect('http://tsbuild', { createConnection: () => net.connect(sockPath) });
  const req = session.request({ ':method': 'POST', ':path': '/v1/build', 'tsbuild-protocol': PROTOCOL_VERSIONS.join(',') });
  req.end('{"type":"build","request":{"contextId":"x","manifestDigest":"sha256:' + '1'.repeat(64) + '","manifest":[{"path":"../../etc/passwd","type":"file","mode":420,"mtimeMs":0,"digest":"sha256:' + '0'.repeat(64) + '"}]}}\n');
  let body = '';
  for await (const c of req) body += c;
  session.close();
  t.regex(body, /malformed build request|bad manifest entry/);
  const after = await remote(['version']);
  t.is(after.code, 0, after.stderr);
  t.regex(after.stdout, /Server: tsbuild/);
});

it('a type=local cache names a client path: refused before anything runs', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\n' });
  const r = await remote(['build', '--cache-to', `type=local,dest=${await tempDir()}`, ctx]);
  t.is(r.code, 1);
  t.regex(r.stderr, /type=local cache is a path on the client/);
});

it('no server at the address: one line and exit 1', async (t) => {
  const r = await tsbuild(['--host', 'unix:///nonexistent/tsbuild.sock', 'images'], { root: await tempDir() });
  t.is(r.code, 1);
  t.regex(r.stderr, /^ERROR: cannot connect to the server at unix:\/\/\/nonexistent\/tsbuild.sock: /);
});
