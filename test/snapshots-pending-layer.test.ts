// Layers written in the background (builder/snapshots/pending-layer.ts),
// on a real store: a pending layer is unreadable until its tar is
// digested, then exactly the record a plain commit gives (and its blob is
// in the store once `written`); its files are in
// the upper dir until finish() publishes them as the snapshot; a failed
// write leaves neither a workspace nor a half-written temp file.
import test from 'ava';
import { access, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openStore, type Store } from '../builder/store/open-store.js';
import { LayerWrites, PendingLayer } from '../builder/snapshots/pending-layer.js';
import type { Workspace } from '../builder/snapshots/snapshot-store.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

const exists = (p: string) => access(p).then(() => true, () => false);

async function workspaceWith(store: Store, files: Record<string, string>): Promise<Workspace> {
  const ws = await store.snapshots.workspace();
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws.upper, rel)), { recursive: true });
    await writeFile(path.join(ws.upper, rel), content);
  }
  return ws;
}

const FILES = { 'app/a.txt': 'a\n', 'app/sub/b.txt': 'b'.repeat(100_000) };
const EPOCH = { sourceDateEpoch: 1_700_000_000 };

test('a pending layer is unreadable until digested, then the very record a commit makes; finish() publishes its snapshot', async (t) => {
  const [rootA, rootB] = [await tempDir(), await tempDir()];
  t.teardown(() => Promise.all([removeTempDir(rootA), removeTempDir(rootB)]));
  const [store, reference] = [await openStore(rootA), await openStore(rootB)];
  const expected = await reference.snapshots.commit(await workspaceWith(reference, FILES), EPOCH);

  const writes = new LayerWrites(store.snapshots);
  const ws = await workspaceWith(store, FILES);
  const layer = writes.start(ws, EPOCH);
  t.true(layer instanceof PendingLayer);
  t.is(layer.unpublishedDir, ws.upper);
  t.throws(() => layer.diffId, { message: /tsbuild bug: the diffId of a layer was read before its blob was digested/ });
  t.throws(() => JSON.stringify(layer), { message: /tsbuild bug/ });
  t.is(writes.undigested([expected]), undefined, 'plain records are never waited for');
  await writes.undigested([expected, layer]);
  t.is(layer.diffId, expected.diffId, 'the digests are there before the blob is stored');
  const waiting = writes.unwritten([expected, layer]);
  t.truthy(waiting);
  t.is(writes.unwritten([expected]), undefined, 'plain records are never waited for');
  await waiting;

  t.deepEqual(JSON.parse(JSON.stringify(layer)), JSON.parse(JSON.stringify(expected)));
  t.deepEqual({ ...layer }, { ...expected });
  t.true(await store.content.has(layer.blob));
  // Until finish(), the files are read from the upper dir, which is still there.
  t.is(layer.unpublishedDir, ws.upper);
  t.is(await readFile(path.join(ws.upper, 'app/a.txt'), 'utf8'), 'a\n');
  t.false(await store.snapshots.has(layer.diffId));

  await writes.finish();
  t.is(layer.unpublishedDir, undefined);
  t.is(await readFile(path.join(store.snapshots.dirOf(layer.diffId), 'app/a.txt'), 'utf8'), 'a\n');
  await writes.tidied();
  t.false(await exists(ws.dir), 'the workspace is gone');
});

test('a failed write rejects its waiters and finish(), and leaves no workspace and no temp file behind', async (t) => {
  const root = await tempDir();
  t.teardown(() => removeTempDir(root));
  const store = await openStore(root);
  const writes = new LayerWrites(store.snapshots);
  const good = writes.start(await workspaceWith(store, FILES), EPOCH);
  const ws = await workspaceWith(store, { 'x.txt': 'x' });
  // The upper dir vanishes: the walk of it fails.
  await rm(ws.upper, { recursive: true });
  const bad = writes.start(ws, EPOCH);
  await t.throwsAsync(writes.undigested([bad])!, { code: 'ENOENT' }, 'a write that failed before its digests fails them');
  await t.throwsAsync(writes.unwritten([good, bad])!, { code: 'ENOENT' });
  await t.throwsAsync(writes.finish(), { code: 'ENOENT' });
  await writes.tidied();
  t.false(await exists(ws.dir));
  // The good one was published all the same.
  t.true(await store.snapshots.has(good.diffId));
  const leftovers = (await readdir(store.content.tempDir()).catch(() => [] as string[])).filter((n) => n.startsWith('layer-'));
  t.deepEqual(leftovers, []);
  t.deepEqual((await readdir(store.paths.snapshots)).filter((n) => n.startsWith('tmp-')), []);
});

test('a canceled build stops its writes: they fail, and leave no workspace and no temp file', async (t) => {
  const root = await tempDir();
  t.teardown(() => removeTempDir(root));
  const store = await openStore(root);
  const cancel = new AbortController();
  const writes = new LayerWrites(store.snapshots, cancel.signal);
  const ws = await workspaceWith(store, FILES);
  cancel.abort(new Error('build canceled'));
  const layer = writes.start(ws, EPOCH);
  await t.throwsAsync(layer.written, { message: 'build canceled' });
  await t.throwsAsync(writes.finish(), { message: 'build canceled' });
  await writes.tidied();
  t.false(await exists(ws.dir));
  const leftovers = (await readdir(store.content.tempDir()).catch(() => [] as string[])).filter((n) => n.startsWith('layer-'));
  t.deepEqual(leftovers, []);
});

test('a layer started once the solve is over (a step that ended after a cancel) is published or removed by itself', async (t) => {
  const root = await tempDir();
  t.teardown(() => removeTempDir(root));
  const store = await openStore(root);
  const writes = new LayerWrites(store.snapshots);
  await writes.finish();
  const ws = await workspaceWith(store, FILES);
  const late = writes.start(ws, EPOCH);
  await late.written;
  await writes.tidied();
  t.is(late.unpublishedDir, undefined);
  t.true(await store.snapshots.has(late.diffId));
  t.false(await exists(ws.dir));
});
