// The context sync sends only what the server lacks: a proxy in front of
// the server's socket counts the bytes clients send. A no-op rebuild of a
// large context moves metadata only; a one-file change moves about that
// file. The result is checked inside the image each time.
import test from 'ava';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { buildSkipReason, freshStore, tsbuild, tempDir } from './helpers/cli.js';
import { countingProxy, startServe, type TestServer } from './helpers/serve.js';
import { makeContext } from './e2e-image-helpers.js';
import http2 from 'node:http2';
import net from 'node:net';
import { validateManifest } from '../builder/server/context-cache.js';
import { PROTOCOL_VERSIONS } from '../builder/remote/protocol.js';

const skip = buildSkipReason();
const it = skip ? test.skip : test.serial;
if (skip) test.skip(`context sync (skipped: ${skip})`, () => {});

let store: Awaited<ReturnType<typeof freshStore>>;
let server: TestServer;
let proxyPath: string;
let sockPath: string;
let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;

test.before(async () => {
  if (skip) return;
  store = await freshStore();
  const dir = await tempDir('tsbuild-sock-');
  sockPath = path.join(dir, 'tsbuild.sock');
  server = await startServe(store.root, ['--addr', `unix://${sockPath}`]);
  proxyPath = path.join(dir, 'counting.sock');
  proxy = await countingProxy(proxyPath, sockPath);
});
test.after.always(async () => {
  proxy?.close();
  await server?.stop();
  await store?.dispose();
});

const FILES = 400;
const FILE_BYTES = 4096;
const BIG_BYTES = 256 * 1024;
// What a no-op may send besides the build request: HTTP/2 set-up and flow control.
const NOOP_BOUND = 8 * 1024;

async function build(ctx: string, out: string): Promise<{ sent: number; stderr: string }> {
  const before = proxy!.sent();
  const r = await tsbuild(['--host', `unix://${proxyPath}`, 'build', '--progress', 'plain', '-o', `type=local,dest=${out}`, ctx], { root: await tempDir('tsbuild-client-') });
  if (r.code !== 0) throw new Error(r.stderr);
  return { sent: proxy!.sent() - before, stderr: r.stderr };
}

it('a no-op rebuild sends metadata only; a one-file change sends about that file', async (t) => {
  const files: Record<string, Buffer | string> = { Dockerfile: 'FROM busybox:latest\nCOPY . /ctx\n', '.dockerignore': 'ignored/\n' };
  for (let i = 0; i < FILES; i++) files[`src/d${i % 20}/f${i}.bin`] = randomBytes(FILE_BYTES);
  files['big.bin'] = randomBytes(BIG_BYTES);
  files['ignored/huge.bin'] = randomBytes(2 * 1024 * 1024);
  const ctx = await makeContext(files);
  const total = FILES * FILE_BYTES + BIG_BYTES;

  const first = await build(ctx, path.join(await tempDir(), 'out'));
  t.true(first.sent >= total, `first build sent ${first.sent} bytes for ${total} bytes of content`);
  // .dockerignore is applied on the client: the ignored 2 MB never leave it.
  t.true(first.sent < total + 1024 * 1024, `first build sent ${first.sent}`);

  const out2 = path.join(await tempDir(), 'out');
  const noop = await build(ctx, out2);
  t.regex(noop.stderr, /transferring context: 0B \(0 of \d+ file contents\)/);
  t.regex(noop.stderr, /COPY \. \/ctx\n#\d+ CACHED/);
  // The manifest's digest alone: the file list itself (~100 bytes a file) stays on the client.
  t.true(noop.sent < NOOP_BOUND, `no-op rebuild sent ${noop.sent} bytes (file list: ${FILES * 100}+)`);
  t.deepEqual(await readFile(path.join(out2, 'ctx/src/d3/f3.bin')), files['src/d3/f3.bin']);

  const changed = randomBytes(BIG_BYTES);
  await writeFile(path.join(ctx, 'big.bin'), changed);
  const out3 = path.join(await tempDir(), 'out');
  const one = await build(ctx, out3);
  t.log(`bytes sent: first ${first.sent}, no-op ${noop.sent}, one ${BIG_BYTES}-byte file changed ${one.sent}`);
  t.true(one.sent >= BIG_BYTES, `one-file change sent ${one.sent}`);
  // The file and its entry: the list travels as its changes since the last build (the whole list is ~${FILES * 150} bytes).
  t.true(one.sent < BIG_BYTES + 16 * 1024, `one-file change sent ${one.sent} bytes`);
  t.deepEqual(await readFile(path.join(out3, 'ctx/big.bin')), changed);
  t.false((await readFile(path.join(out3, 'ctx/.dockerignore'), 'utf8')).includes('huge'));
});

it('a restarted server asks for the file list and reuses its warm tree; an edited file moves alone', async (t) => {
  const files: Record<string, Buffer | string> = { Dockerfile: 'FROM busybox:latest\nCOPY . /ctx\n' };
  for (let i = 0; i < 100; i++) files[`src/f${i}.bin`] = randomBytes(FILE_BYTES);
  const ctx = await makeContext(files);
  await build(ctx, path.join(await tempDir(), 'out'));
  // A restarted server keeps its warm tree on disk but no file list in memory.
  await server.stop();
  server = await startServe(store.root, ['--addr', `unix://${sockPath}`]);
  const again = await build(ctx, path.join(await tempDir(), 'out'));
  t.regex(again.stderr, /transferring context: 0B \(0 of \d+ file contents\)/);
  t.regex(again.stderr, /COPY \. \/ctx\n#\d+ CACHED/);
  // The client sent changes to a list the new server never saw: it asked for the whole list.
  t.true(again.sent > 100 * 80 && again.sent < 100 * FILE_BYTES, `after a restart the list was sent (${again.sent} bytes), no content`);

  // Same size, same content length, new bytes: picked up, and only that file moves.
  const edited = randomBytes(FILE_BYTES);
  await writeFile(path.join(ctx, 'src/f42.bin'), edited);
  const out = path.join(await tempDir(), 'out');
  const one = await build(ctx, out);
  t.regex(one.stderr, /transferring context: 4\.0KB \(1 of \d+ file contents\)/);
  t.deepEqual(await readFile(path.join(out, 'ctx/src/f42.bin')), edited);
  t.deepEqual(await readFile(path.join(out, 'ctx/src/f41.bin')), files['src/f41.bin']);
});

// An unchanged context is recognized by one lstat per remembered entry
// (no directory is read): a chmod, a deleted file, a new symlink and a
// .dockerignore that now ignores a file must each still reach the image.
it('after a no-op, a chmod, a deletion, a new symlink and a .dockerignore change all reach the image', async (t) => {
  const ctx = await makeContext({
    Dockerfile: 'FROM busybox:latest\nCOPY . /ctx\n',
    '.dockerignore': 'ignored.txt\n',
    'run.sh': 'echo hi\n',
    'gone.txt': 'soon deleted',
    'kept.txt': 'kept',
    'later-ignored.txt': 'soon ignored',
    'sub/a.txt': 'a',
  });
  // Entries younger than the racy margin are never trusted: aged, the shortcut applies from the next build on.
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  await build(ctx, path.join(await tempDir(), 'out'));
  const noop = await build(ctx, path.join(await tempDir(), 'out'));
  t.regex(noop.stderr, /transferring context: 0B \(0 of 7 file contents\)/);

  await chmod(path.join(ctx, 'run.sh'), 0o755);
  await rm(path.join(ctx, 'gone.txt'));
  await symlink('../kept.txt', path.join(ctx, 'sub/link'));
  await writeFile(path.join(ctx, '.dockerignore'), 'ignored.txt\nlater-ignored.txt\n');
  const out = path.join(await tempDir(), 'out');
  await build(ctx, out);
  t.is((await stat(path.join(out, 'ctx/run.sh'))).mode & 0o777, 0o755);
  t.false(existsSync(path.join(out, 'ctx/gone.txt')));
  t.is(await readlink(path.join(out, 'ctx/sub/link')), '../kept.txt');
  t.false(existsSync(path.join(out, 'ctx/later-ignored.txt')));
  t.is(await readFile(path.join(out, 'ctx/kept.txt'), 'utf8'), 'kept');
});

it('a manifest sent under another digest is refused: a client can only name lists it sent', async (t) => {
  const entries = [{ path: 'a', type: 'file', mode: 0o644, mtimeMs: 1, size: 1, digest: 'sha256:' + '0'.repeat(64) }];
  const session = http2.connect('http://tsbuild', { createConnection: () => net.connect(sockPath) });
  const req = session.request({ ':method': 'POST', ':path': '/v1/build', 'tsbuild-protocol': PROTOCOL_VERSIONS.join(',') });
  const request = { contextId: 'x', manifestDigest: 'sha256:' + '1'.repeat(64), manifest: entries, dockerfile: { text: 'FROM scratch\n', name: 'Dockerfile' }, tags: [], buildArgs: [], labels: [], platforms: [], noCache: false, noCacheFilter: [], pull: false, outputs: [], secrets: [], ssh: [], cacheFrom: [], cacheTo: [], call: 'build', allow: [], runtime: 'native', wantMetadata: false };
  req.end(JSON.stringify({ type: 'build', request }) + '\n');
  let body = '';
  for await (const c of req) body += c;
  session.close();
  t.regex(body, /does not match its digest/);
  t.notRegex(body, /need-blobs/);
});

test('a hostile manifest is refused before anything is written', (t) => {
  const d = 'sha256:' + '0'.repeat(64);
  const bad = [
    [{ path: '../x', type: 'file', mode: 0o644, mtimeMs: 0, digest: d }],
    [{ path: '/etc/passwd', type: 'file', mode: 0o644, mtimeMs: 0, digest: d }],
    [{ path: 'a/b', type: 'file', mode: 0o644, mtimeMs: 0, digest: d }],
    [{ path: 'a', type: 'symlink', mode: 0o777, mtimeMs: 0, link: '/' }, { path: 'a/b', type: 'file', mode: 0o644, mtimeMs: 0, digest: d }],
    [{ path: 'x', type: 'file', mode: 0o644, mtimeMs: 0, digest: 'sha256:../../' }],
    [{ path: 'x', type: 'char', mode: 0o644, mtimeMs: 0 }],
    [{ path: 'x', type: 'dir', mode: 0o755, mtimeMs: 0 }, { path: 'x', type: 'dir', mode: 0o755, mtimeMs: 0 }],
  ];
  for (const m of bad) t.throws(() => validateManifest(m), { message: /bad manifest entry/ }, JSON.stringify(m));
  t.notThrows(() => validateManifest([{ path: 'a', type: 'dir', mode: 0o755, mtimeMs: 1 }, { path: 'a/b', type: 'symlink', mode: 0o777, mtimeMs: 1, link: '../../etc' }]));
});
