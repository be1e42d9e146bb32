// The server's memo of whole build answers (server/result-memo.ts): an
// identical no-op rebuild is answered from it, and every change that could
// change the result makes the next build a real one. Each test changes the
// store one way (through the server or by another process on its store)
// and looks at the image the next build gives: a RUN step that writes
// random bytes makes a step that ran again show as a new image id.
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { tsbuild, tempDir } from './helpers/cli.js';
import { serverSuite } from './helpers/server-suite.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = serverSuite('server result memo', [], { TSBUILD_SERVE_DEBUG: '1' });
const { it } = suite;

const STAMP = 'RUN head -c 16 /dev/urandom | od -An -tx1 > /stamp && echo';
const memoAnswers = () => (suite.server.log().match(/answered from the memo/g) ?? []).length;

// One client (one context snapshot) for the whole file, as a developer's machine.
let clientRoot = '';
async function remote(args: string[]) {
  clientRoot ||= await tempDir('tsbuild-client-');
  return tsbuild(['--host', suite.host, ...args], { root: clientRoot });
}

/** Builds with -q; resolves to the image id and whether the server answered from its memo. */
async function build(ctx: string, args: string[] = []): Promise<{ id: string; memo: boolean }> {
  const before = memoAnswers();
  const r = await remote(['build', '-q', ...args, ctx]);
  if (r.code !== 0) throw new Error(`build failed (${r.code}): ${r.stderr}`);
  return { id: r.stdout.trim(), memo: memoAnswers() > before };
}

/** A context whose files are older than the client's racy margin, so its rebuilds send the manifest digest alone. */
async function context(dockerfile: string): Promise<string> {
  const ctx = await makeContext({ Dockerfile: dockerfile, 'app.txt': 'app\n' });
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  return ctx;
}

/** Builds until the memo answers (the second build records, the third is answered); returns the id. */
async function memoized(ctx: string, args: string[] = []): Promise<string> {
  const first = await build(ctx, args);
  const second = await build(ctx, args);
  const third = await build(ctx, args);
  if (!third.memo) throw new Error('the third identical build was not answered from the memo');
  if (second.id !== first.id || third.id !== first.id) throw new Error('a no-op rebuild changed the image');
  return first.id;
}

it('an identical no-op rebuild is answered from the memo, with the progress of a real one', async (t) => {
  const ctx = await context(`FROM busybox:latest\nCOPY app.txt /app.txt\n${STAMP}\n`);
  const id = await memoized(ctx, ['-t', 'memo-a:latest']);
  const plain = await remote(['build', '--progress', 'plain', '-t', 'memo-a:latest', ctx]);
  t.is(plain.code, 0, plain.stderr);
  t.regex(plain.stderr, /transferring context: 0B/);
  t.regex(plain.stderr, /RUN head -c 16[^\n]*\n#\d+ CACHED/);
  t.regex(plain.stderr, new RegExp(`writing image ${id} done`));
  t.regex(plain.stderr, /naming to docker.io\/library\/memo-a:latest done/);
  const inspect = await remote(['inspect', '--format', '{{.Id}}', 'memo-a:latest']);
  t.is(inspect.stdout.trim(), id);
});

it('prune by another process on the store: the step runs again', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} prune\n`);
  const id = await memoized(ctx, ['-t', 'memo-prune:latest']);
  const pruned = await tsbuild(['prune', '-af'], { root: suite.store.root });
  t.is(pruned.code, 0, pruned.stderr);
  const after = await build(ctx, ['-t', 'memo-prune:latest']);
  t.false(after.memo);
  t.not(after.id, id);
});

it('rmi of the built tag through the server: the rebuild tags it again', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} rmi\n`);
  const id = await memoized(ctx, ['-t', 'memo-rmi:latest']);
  t.is((await remote(['rmi', 'memo-rmi:latest'])).code, 0);
  t.not((await remote(['inspect', 'memo-rmi:latest'])).code, 0);
  const after = await build(ctx, ['-t', 'memo-rmi:latest']);
  t.false(after.memo);
  t.is(after.id, id);
  const inspect = await remote(['inspect', '--format', '{{.Id}}', 'memo-rmi:latest']);
  t.is(inspect.code, 0, inspect.stderr);
  t.is(inspect.stdout.trim(), id);
});

it('a base image re-tagged by another build: the rebuild uses the new base', async (t) => {
  const base = async (marker: string) => {
    const dir = await makeContext({ Dockerfile: `FROM busybox:latest\nRUN echo ${marker} > /base\n` });
    const r = await remote(['build', '-q', '-t', 'memo-base:latest', dir]);
    t.is(r.code, 0, r.stderr);
  };
  await base('first-base');
  const ctx = await context(`FROM memo-base:latest\n${STAMP} base\n`);
  const id = await memoized(ctx, ['-t', 'memo-child:latest']);
  await base('second-base');
  const after = await build(ctx, ['-t', 'memo-child:latest']);
  t.false(after.memo);
  t.not(after.id, id);
  const history = await remote(['history', '--no-trunc', 'memo-child:latest']);
  t.regex(history.stdout, /echo second-base/);
  t.notRegex(history.stdout, /echo first-base/);
});

it('a tag moved by another process: the rebuild tags its own image again', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} tag\n`);
  const id = await memoized(ctx, ['-t', 'memo-tag:latest']);
  const moved = await tsbuild(['tag', 'busybox:latest', 'memo-tag:latest'], { root: suite.store.root });
  t.is(moved.code, 0, moved.stderr);
  const after = await build(ctx, ['-t', 'memo-tag:latest']);
  t.false(after.memo);
  t.is(after.id, id);
  t.is((await remote(['inspect', '--format', '{{.Id}}', 'memo-tag:latest'])).stdout.trim(), id);
});

it('--no-cache is never answered from the memo; the tag it moved makes the next build a real one', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} nocache\n`);
  const id = await memoized(ctx, ['-t', 'memo-nc:latest']);
  const fresh = await build(ctx, ['--no-cache', '-t', 'memo-nc:latest']);
  t.false(fresh.memo);
  t.not(fresh.id, id);
  t.is((await remote(['inspect', '--format', '{{.Id}}', 'memo-nc:latest'])).stdout.trim(), fresh.id);
  // --no-cache leaves the cache entries as they were: a plain build gives their image and tags it again.
  const after = await build(ctx, ['-t', 'memo-nc:latest']);
  t.false(after.memo);
  t.is(after.id, id);
  t.is((await remote(['inspect', '--format', '{{.Id}}', 'memo-nc:latest'])).stdout.trim(), id);
});

it('other build args or another output are builds of their own', async (t) => {
  const ctx = await context(`FROM busybox:latest\nARG V=0\n${STAMP} $V\n`);
  const id = await memoized(ctx, ['-t', 'memo-args:latest']);
  const other = await build(ctx, ['--build-arg', 'V=1', '-t', 'memo-args:latest']);
  t.false(other.memo);
  t.not(other.id, id);
  // The first request's memo was for a store whose tag the second build has moved since.
  const back = await build(ctx, ['-t', 'memo-args:latest']);
  t.false(back.memo);
  t.is(back.id, id);

  const dest = path.join(await tempDir(), 'out');
  const local = await remote(['build', '-q', '-o', `type=local,dest=${dest}`, ctx]);
  t.is(local.code, 0, local.stderr);
  // The streamed output is written here, from the cached steps.
  t.regex(await readFile(path.join(dest, 'stamp'), 'utf8'), /[0-9a-f]{2}/);
});

it('a context changed since the last build: the answer the client asked for while it checked is dropped', async (t) => {
  const ctx = await context(`FROM busybox:latest\nCOPY app.txt /app.txt\n${STAMP} edit\n`);
  const id = await memoized(ctx, ['-t', 'memo-edit:latest']);
  await writeFile(path.join(ctx, 'app.txt'), 'edited\n');
  // The client asked for the answer of the context as it was (and got it) before its check saw the edit.
  const after = await build(ctx, ['-t', 'memo-edit:latest']);
  t.true(after.memo);
  t.not(after.id, id);
  const dest = path.join(await tempDir(), 'out');
  const local = await remote(['build', '-q', '-o', `type=local,dest=${dest}`, ctx]);
  t.is(local.code, 0, local.stderr);
  t.is(await readFile(path.join(dest, 'app.txt'), 'utf8'), 'edited\n');
});
