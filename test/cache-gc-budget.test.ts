// The size limit's cheap check: the store's bytes counted from remembered
// sizes equal what prune counts; sizes are measured once, what was added
// since is counted and what was removed is forgotten; and through the
// builder's collector a store exactly at the limit keeps everything while
// one byte over removes the least recently used entry, as prune does.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Digest } from '../cache/digest.js';
import { storeBytes } from '../cache/gc-budget.js';
import { scanStore, treeBytes } from '../cache/gc-scan.js';
import { StoreSizes } from '../cache/gc-sizes.js';
import { prune } from '../cache/gc.js';
import { collectGarbage, gcRootsOf, storeLayoutOf } from '../builder/pipeline/cache-session.js';
import { openStore, type Store } from '../builder/store/open-store.js';

const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-gc-budget-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));
let counter = 0;
const HOUR = 3_600_000;

// Two cache-only entries (no image), each with a blob and a snapshot of a
// few files; `old` was used 2 h ago, `recent` 1 h ago.
async function fixture(): Promise<{ store: Store; blobs: Record<'old' | 'recent', Digest>; entryFile: Record<'old' | 'recent', string> }> {
  const store = await openStore(path.join(testRoot, `store-${counter++}`));
  const now = Date.now();
  const blobs = { old: await store.content.putBuffer('old layer'.repeat(500)), recent: await store.content.putBuffer('recent layer'.repeat(700)) };
  const entryFile = { old: '', recent: '' };
  for (const [name, digest] of Object.entries(blobs) as ['old' | 'recent', Digest][]) {
    await utimes(store.content.path(digest), new Date(now - HOUR), new Date(now - HOUR));
    const dir = store.snapshots.dirOf(digest);
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await writeFile(path.join(dir, 'sub', 'file'), name.repeat(3000));
    await writeFile(path.join(dir, 'top'), name);
    const hex = name === 'old' ? 'a'.repeat(64) : 'b'.repeat(64);
    const file = path.join(store.paths.cacheIndex, hex.slice(0, 2), `${hex}.json`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ layers: [{ diffId: digest, blob: digest, size: 1, mediaType: 'x' }], stepAdded: [] }));
    const age = name === 'old' ? 2 * HOUR : HOUR;
    await utimes(file, new Date(now - age), new Date(now - age));
    entryFile[name] = file;
  }
  return { store, blobs, entryFile };
}

async function pruneTotal(store: Store, sizes: StoreSizes): Promise<number> {
  const scan = await scanStore(storeLayoutOf(store), await gcRootsOf(store), sizes.sizeOf);
  let n = 0;
  for (const item of [...scan.blobs.values(), ...scan.snapshots.values()]) n += item.bytes;
  return n;
}

test('the store\'s bytes from remembered sizes are the bytes prune counts', async (t) => {
  const { store } = await fixture();
  const sizes = await StoreSizes.load(store.paths.root);
  const bytes = await storeBytes(storeLayoutOf(store), sizes);
  t.true(bytes > 0);
  t.is(bytes, await pruneTotal(store, await StoreSizes.load(store.paths.root)));
  // prune with that very limit removes nothing and leaves that many bytes.
  const report = await prune(storeLayoutOf(store), await gcRootsOf(store), { keepStorageBytes: bytes }, sizes.sizeOf);
  t.is(report.entriesRemoved + report.blobsRemoved + report.snapshotsRemoved, 0);
  t.is(report.bytesLeft, bytes);
});

test('sizes are measured once; what is added since is counted, what is removed forgotten', async (t) => {
  const { store, blobs } = await fixture();
  const layout = storeLayoutOf(store);
  const first = await StoreSizes.load(store.paths.root);
  const before = await storeBytes(layout, first);
  await first.save();
  const saved = JSON.parse(await readFile(path.join(store.paths.root, 'gc', 'sizes.json'), 'utf8'));
  t.is(Object.keys(saved.blobs).length, 2);
  t.is(saved.snapshots[path.basename(store.snapshots.dirOf(blobs.old))], await treeBytes(store.snapshots.dirOf(blobs.old)));

  // A new blob and snapshot, the old ones removed.
  const added = await store.content.putBuffer('added'.repeat(900));
  await mkdir(store.snapshots.dirOf(added));
  await writeFile(path.join(store.snapshots.dirOf(added), 'f'), 'x'.repeat(10_000));
  await store.content.delete(blobs.old);
  await rm(store.snapshots.dirOf(blobs.old), { recursive: true });
  const again = await StoreSizes.load(store.paths.root);
  const after = await storeBytes(layout, again);
  t.is(after, await pruneTotal(store, await StoreSizes.load(path.join(testRoot, 'no-sizes'))));
  t.not(after, before);
  await again.save();
  const resaved = JSON.parse(await readFile(path.join(store.paths.root, 'gc', 'sizes.json'), 'utf8'));
  t.deepEqual(Object.keys(resaved.blobs).sort(), [added, blobs.recent].sort());
  t.false(path.basename(store.snapshots.dirOf(blobs.old)) in resaved.snapshots);
});

test('sizes remembered by an older store (snapshot-sizes.json) are read, and the old file goes', async (t) => {
  const { store, blobs } = await fixture();
  const gcDir = path.join(store.paths.root, 'gc');
  await mkdir(gcDir, { recursive: true });
  // A size only the old file knows: the walk would find another.
  const name = path.basename(store.snapshots.dirOf(blobs.old));
  await writeFile(path.join(gcDir, 'snapshot-sizes.json'), JSON.stringify({ [name]: 12345 }));
  const sizes = await StoreSizes.load(store.paths.root);
  t.is(await sizes.sizeOf(store.snapshots.dirOf(blobs.old)), 12345);
  await storeBytes(storeLayoutOf(store), sizes);
  await sizes.save();
  t.is(await stat(path.join(gcDir, 'snapshot-sizes.json')).catch(() => null), null);
  t.is(JSON.parse(await readFile(path.join(gcDir, 'sizes.json'), 'utf8')).snapshots[name], 12345);
});

test('the size limit after a build: at the limit nothing goes, one byte over the least recently used entry goes', async (t) => {
  const { store, blobs, entryFile } = await fixture();
  const total = await pruneTotal(store, await StoreSizes.load(path.join(testRoot, 'no-sizes')));
  const within = await collectGarbage(store, { keepStorageBytes: total }, { waitMs: 0 });
  t.like(within, { entriesRemoved: 0, blobsRemoved: 0, snapshotsRemoved: 0, bytesFreed: 0, bytesLeft: total });
  t.truthy(await stat(entryFile.old).catch(() => null));

  const over = await collectGarbage(store, { keepStorageBytes: total - 1 }, { waitMs: 0 });
  t.like(over, { entriesRemoved: 1, blobsRemoved: 1, snapshotsRemoved: 1 });
  t.is(await stat(entryFile.old).catch(() => null), null);
  t.false(await store.content.has(blobs.old));
  t.truthy(await stat(entryFile.recent).catch(() => null));
  t.true(await store.content.has(blobs.recent));
});
