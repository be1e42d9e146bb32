// The server's context cache under the collector: `du` counts it, prune
// removes warm contexts least recently used first with the contents only
// they list, keeps what was used (or reported present to a client) within
// the grace period, and never a running build's context. Real ContextCache
// trees on a hand-made store, no builds.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContentStore } from '../cache/content-store.js';
import type { Digest } from '../cache/digest.js';
import { diskUsage } from '../cache/disk-usage.js';
import type { StoreLayout } from '../cache/gc-scan.js';
import { prune } from '../cache/gc.js';
import { ContextCache } from '../builder/server/context-cache.js';
import type { ManifestEntry } from '../builder/remote/protocol.js';

const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-context-gc-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));
let counter = 0;
const HOUR = 3_600_000;
const sizeOf = async () => 0;
const roots = { manifests: [], snapshotDirsInUse: [] };

async function setup() {
  const root = path.join(testRoot, `store-${counter++}`);
  const layout: StoreLayout = {
    root, content: new ContentStore(path.join(root, 'content')),
    cacheIndexDir: path.join(root, 'cache-index'), snapshotsDir: path.join(root, 'snapshots'), cacheMountsDir: path.join(root, 'cache-mounts'),
    contextCacheDir: path.join(root, 'context'),
    snapshotDirOf: (d) => path.join(root, 'snapshots', d.slice(7)),
  };
  const cache = new ContextCache(layout.contextCacheDir!);
  const put = (text: string) => cache.blobs.putBuffer(text.repeat(2000));
  const shared = await put('shared');
  const onlyA = await put('only in A');
  const onlyB = await put('only in B');
  const file = (p: string, digest: Digest): ManifestEntry => ({ path: p, type: 'file', mode: 0o644, mtimeMs: 1_000_000, digest });
  const manifests = { a: [file('shared.txt', shared), file('a.txt', onlyA)], b: [file('shared.txt', shared), file('b.txt', onlyB)] };
  for (const id of ['a', 'b'] as const) await (await cache.materialize(id, manifests[id])).release();
  // As if a was last used 2 h ago and b 3 h ago, their contents uploaded 4 h ago.
  const age = async (file: string, ms: number) => utimes(file, new Date(Date.now() - ms), new Date(Date.now() - ms));
  for (const d of [shared, onlyA, onlyB]) await age(cache.blobs.path(d), 4 * HOUR);
  const trees = path.join(layout.contextCacheDir!, 'trees');
  const manifestOf = async (id: string) => path.join(trees, await treeName(trees, id));
  await age(await manifestOf('a'), 2 * HOUR);
  await age(await manifestOf('b'), 3 * HOUR);
  return { layout, cache, manifests, digests: { shared, onlyA, onlyB } };
}

// Trees are named by a hash of the client's context id; find them by the files they hold.
async function treeName(trees: string, id: string): Promise<string> {
  for (const name of await readdir(trees)) {
    if (!name.endsWith('.manifest.json')) continue;
    if (await stat(path.join(trees, name.slice(0, -'.manifest.json'.length), `${id}.txt`)).catch(() => null)) return name;
  }
  throw new Error(`no tree for ${id}`);
}

test('du counts the synced contexts and their contents, all reclaimable', async (t) => {
  const { layout } = await setup();
  const { report } = await diskUsage(layout, roots, sizeOf);
  t.is(report.contextCache.count, 2);
  t.true(report.contextCache.bytes > 3 * 2000 * 6, `${report.contextCache.bytes} bytes`);
  t.is(report.contextCache.reclaimableBytes, report.contextCache.bytes);
  t.is(report.totalBytes, report.contextCache.bytes);
});

test('--keep-storage removes the least recently used context first, with the contents only it lists', async (t) => {
  const { layout, cache, manifests, digests } = await setup();
  const before = (await diskUsage(layout, roots, sizeOf)).report.contextCache.bytes;
  const report = await prune(layout, roots, { keepStorageBytes: before - 1 }, sizeOf);
  t.is(report.contextsRemoved, 1);
  t.is(report.contextFilesRemoved, 1);
  t.false(await cache.blobs.has(digests.onlyB));
  t.true(await cache.blobs.has(digests.shared));
  t.true(await cache.blobs.has(digests.onlyA));
  // Context a is still warm: using it again writes nothing.
  const again = await cache.materialize('a', manifests.a);
  t.is(again.written, 0);
  await again.release();
  t.deepEqual(await cache.missing([digests.onlyB]), [digests.onlyB]);
});

test('prune removes old contexts and contents; what was used or reported present within the grace period stays', async (t) => {
  const { layout, cache, digests } = await setup();
  // A client was just told the server has `shared`: it will not send it again.
  t.deepEqual(await cache.missing([digests.shared]), []);
  const report = await prune(layout, roots, {}, sizeOf);
  t.is(report.contextsRemoved, 2);
  t.is(report.contextFilesRemoved, 2);
  t.true(await cache.blobs.has(digests.shared));
  t.false(await cache.blobs.has(digests.onlyA));
  const { report: du } = await diskUsage(layout, roots, sizeOf);
  t.is(du.contextCache.count, 0);

  // A context just materialised (a build about to start) is kept.
  await (await cache.materialize('fresh', [{ path: 'fresh.txt', type: 'file', mode: 0o644, mtimeMs: 1, digest: digests.shared }])).release();
  t.is((await prune(layout, roots, { all: true }, sizeOf)).contextsRemoved, 0);
});

test('a running build\'s own context copy is in use; one a killed server left is garbage', async (t) => {
  const { layout } = await setup();
  const tmp = path.join(layout.contextCacheDir!, 'tmp');
  await mkdir(path.join(tmp, `${process.pid}-1`), { recursive: true });
  await writeFile(path.join(tmp, `${process.pid}-1`, 'f'), 'x'.repeat(10_000));
  await mkdir(path.join(tmp, '999999-1'), { recursive: true });
  await writeFile(path.join(tmp, '999999-1', 'f'), 'x'.repeat(10_000));
  const { report } = await diskUsage(layout, roots, sizeOf);
  t.true(report.contextCache.bytes - report.contextCache.reclaimableBytes >= 10_000);
  await prune(layout, roots, { all: true }, sizeOf);
  t.deepEqual(await readdir(tmp), [`${process.pid}-1`]);
});

test('a second build of a busy context gets a copy of its own that leaves nothing behind', async (t) => {
  const { layout, cache, manifests } = await setup();
  const warm = await cache.materialize('a', manifests.a);
  const copy = await cache.materialize('a', manifests.a);
  t.not(copy.dir, warm.dir);
  await copy.release();
  await warm.release();
  t.deepEqual(await readdir(path.join(layout.contextCacheDir!, 'tmp')), []);
});
