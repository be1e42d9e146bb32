// The cache's garbage collector on a hand-made store (no builds): what
// prune removes and keeps, the LRU order of --keep-storage, until=, the
// grace of unreferenced blobs; the lease/collector exclusion; the size and
// duration parsers; and the persistent checksum cache's racy-entry rule.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { chmod, mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FINE_RACY_MARGIN_MS, PersistentChecksumCache, RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { ContentStore } from '../cache/content-store.js';
import { hexOf, type Digest } from '../cache/digest.js';
import { checkCacheEntries, diskUsage } from '../cache/disk-usage.js';
import { formatSize, parseDuration, parseSize } from '../cache/gc-config.js';
import { acquireLease, liveLeases, withCollectorLock, leasesDir } from '../cache/gc-lease.js';
import { scanStore, type GcRoots, type StoreLayout } from '../cache/gc-scan.js';
import { prune } from '../cache/gc.js';

const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-gc-test-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));
let counter = 0;

interface Fixture {
  layout: StoreLayout;
  roots: GcRoots;
  blobs: Record<'l1' | 'l2' | 'l3' | 'manifest' | 'config', Digest>;
  entries: Record<'e1' | 'e2' | 'e3', string>;
}

const HOUR = 3_600_000;
const sizeOf = async (dir: string) => (await readdir(dir)).length * 1000;

// An image (manifest → config, layer l1) and three cache entries:
//   e1 [l1]      its layers all belong to the image; used 1 h ago
//   e2 [l1, l2]  cache only; used 2 h ago
//   e3 [l3]      cache only; used 3 h ago
// and a snapshot dir per layer. Everything was written 1 h ago except where said.
async function fixture(): Promise<Fixture> {
  const root = path.join(testRoot, `store-${counter++}`);
  const content = new ContentStore(path.join(root, 'content'));
  const layout: StoreLayout = {
    root, content,
    cacheIndexDir: path.join(root, 'cache-index'),
    snapshotsDir: path.join(root, 'snapshots'),
    cacheMountsDir: path.join(root, 'cache-mounts'),
    snapshotDirOf: (d) => path.join(root, 'snapshots', hexOf(d).slice(0, 24)),
  };
  const l1 = await content.putBuffer('layer one'.repeat(100));
  const l2 = await content.putBuffer('layer two'.repeat(200));
  const l3 = await content.putBuffer('layer three'.repeat(300));
  const config = await content.putBuffer(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [l1] } }));
  const manifest = await content.putBuffer(JSON.stringify({ config: { digest: config }, layers: [{ digest: l1 }] }));
  const now = Date.now();
  for (const d of [l1, l2, l3, config, manifest]) await utimes(content.path(d), new Date(now - HOUR), new Date(now - HOUR));
  for (const d of [l1, l2, l3]) {
    await mkdir(layout.snapshotDirOf(d), { recursive: true });
    await writeFile(path.join(layout.snapshotDirOf(d), 'file'), 'x');
  }
  const entry = async (name: string, layers: Digest[], ageMs: number) => {
    const key = `sha256:${name.repeat(32)}`;
    const file = path.join(layout.cacheIndexDir, name, `${name.repeat(32)}.json`);
    await mkdir(path.dirname(file), { recursive: true });
    // Layer diff ids equal blob digests here: uncompressed layers, as the builder stores its own.
    await writeFile(file, JSON.stringify({ layers: layers.map((l) => ({ diffId: l, blob: l, size: 1, mediaType: 'x' })), stepAdded: [] }));
    await utimes(file, new Date(now - ageMs), new Date(now - ageMs));
    return key;
  };
  const entries = { e1: await entry('e1', [l1], HOUR), e2: await entry('e2', [l1, l2], 2 * HOUR), e3: await entry('e3', [l3], 3 * HOUR) };
  return { layout, roots: { manifests: [manifest], snapshotDirsInUse: [] }, blobs: { l1, l2, l3, manifest, config }, entries };
}

async function keys(f: Fixture): Promise<string[]> {
  return (await scanStore(f.layout, f.roots, sizeOf)).entries.map((e) => e.key).sort();
}

test('prune removes cache-only entries, their blobs and snapshots, and keeps what the image needs', async (t) => {
  const f = await fixture();
  const report = await prune(f.layout, f.roots, {}, sizeOf);
  t.deepEqual(await keys(f), [f.entries.e1]);
  t.is(report.entriesRemoved, 2);
  t.is(report.blobsRemoved, 2);
  t.is(report.snapshotsRemoved, 2);
  for (const d of [f.blobs.l1, f.blobs.manifest, f.blobs.config]) t.true(await f.layout.content.has(d));
  for (const d of [f.blobs.l2, f.blobs.l3]) t.false(await f.layout.content.has(d));
  t.truthy(await stat(f.layout.snapshotDirOf(f.blobs.l1)).catch(() => null));
  t.is(await stat(f.layout.snapshotDirOf(f.blobs.l2)).catch(() => null), null);
});

test('prune --all also removes entries used by images, never the images\' blobs', async (t) => {
  const f = await fixture();
  await mkdir(path.join(f.layout.cacheMountsDir, 'm1'), { recursive: true });
  const report = await prune(f.layout, f.roots, { all: true }, sizeOf);
  t.deepEqual(await keys(f), []);
  t.is(report.cacheMountsRemoved, 1);
  for (const d of [f.blobs.l1, f.blobs.manifest, f.blobs.config]) t.true(await f.layout.content.has(d));
  t.truthy(await stat(f.layout.snapshotDirOf(f.blobs.l1)).catch(() => null));
  const { report: du } = await diskUsage(f.layout, f.roots, sizeOf);
  t.is(du.blobs.reclaimableBytes, 0);
  t.is(du.cacheEntries.count, 0);
});

test('--keep-storage removes the least recently used entries first and stops at the limit', async (t) => {
  const f = await fixture();
  const scan = await scanStore(f.layout, f.roots, sizeOf);
  const total = [...scan.blobs.values(), ...scan.snapshots.values()].reduce((n, i) => n + i.bytes, 0);
  // Dropping e3 (the oldest) frees l3's blob and snapshot: enough for this limit.
  const l3Bytes = scan.blobs.get(f.blobs.l3)!.bytes + 1000;
  const report = await prune(f.layout, f.roots, { keepStorageBytes: total - l3Bytes }, sizeOf);
  t.deepEqual(await keys(f), [f.entries.e1, f.entries.e2].sort());
  t.is(report.bytesLeft, total - l3Bytes);
});

test('until= keeps entries used more recently than the duration', async (t) => {
  const f = await fixture();
  await prune(f.layout, f.roots, { untilMs: parseDuration('150m') }, sizeOf);
  t.deepEqual(await keys(f), [f.entries.e1, f.entries.e2].sort());
});

test('blobs nothing refers to are kept during the grace period, removed after', async (t) => {
  const f = await fixture();
  const fresh = await f.layout.content.putBuffer('written by a load in progress');
  const old = await f.layout.content.putBuffer('left over long ago');
  await utimes(f.layout.content.path(old), new Date(Date.now() - HOUR), new Date(Date.now() - HOUR));
  await prune(f.layout, f.roots, {}, sizeOf);
  t.true(await f.layout.content.has(fresh));
  t.false(await f.layout.content.has(old));
});

test('snapshots used by containers are kept', async (t) => {
  const f = await fixture();
  const roots = { ...f.roots, snapshotDirsInUse: [f.layout.snapshotDirOf(f.blobs.l3)] };
  await prune(f.layout, roots, { all: true }, sizeOf);
  t.truthy(await stat(f.layout.snapshotDirOf(f.blobs.l3)).catch(() => null));
});

test('the cache check names entries whose layer blobs are missing or corrupt', async (t) => {
  const f = await fixture();
  t.deepEqual(await checkCacheEntries(f.layout, await scanStore(f.layout, f.roots, sizeOf), { verifyDigests: true }), []);
  // Blobs are read-only (0444): only root could write one without this.
  await chmod(f.layout.content.path(f.blobs.l2), 0o644);
  await writeFile(f.layout.content.path(f.blobs.l2), 'tampered');
  await f.layout.content.delete(f.blobs.l3);
  const problems = await checkCacheEntries(f.layout, await scanStore(f.layout, f.roots, sizeOf), { verifyDigests: true });
  t.is(problems.length, 2);
  t.true(problems.some((p) => p.includes(f.blobs.l2) && p.includes('does not match')));
  t.true(problems.some((p) => p.includes(f.blobs.l3) && p.includes('missing')));
});

function sleeper(): ChildProcess {
  return spawn('sleep', ['30'], { stdio: 'ignore' });
}

test('the collector waits for live leases and ignores dead ones', async (t) => {
  const root = path.join(testRoot, `leases-${counter++}`);
  await mkdir(leasesDir(root), { recursive: true });
  await writeFile(path.join(leasesDir(root), '999999-dead.json'), JSON.stringify({ pid: 999999, startedAt: 0, purpose: 'build' }));
  t.is(await withCollectorLock(root, async () => 'ran'), 'ran');
  t.deepEqual(await liveLeases(root), []);
  const child = sleeper();
  try {
    await writeFile(path.join(leasesDir(root), `${child.pid}-live.json`), JSON.stringify({ pid: child.pid, startedAt: 0, purpose: 'build' }));
    const err = await t.throwsAsync(withCollectorLock(root, async () => 'ran', { waitMs: 300 }));
    t.is((err as { code?: string }).code, 'STORE_BUSY');
  } finally {
    child.kill();
  }
});

test('a lease of the collecting process itself holds the collector off (a server\'s other build)', async (t) => {
  const root = path.join(testRoot, `leases-${counter++}`);
  const other = await acquireLease(root, 'build of another client', { timeoutMs: 2000 });
  try {
    const err = await t.throwsAsync(withCollectorLock(root, async () => 'ran', { waitMs: 0 }));
    t.is((err as { code?: string }).code, 'STORE_BUSY');
    t.regex((err as Error).message, /build of another client/);
  } finally {
    await other.release();
  }
  t.is(await withCollectorLock(root, async () => 'ran'), 'ran');
});

test('a build lease waits while a collector holds the lock, and is released', async (t) => {
  const root = path.join(testRoot, `leases-${counter++}`);
  await mkdir(leasesDir(root), { recursive: true });
  const child = sleeper();
  try {
    await writeFile(path.join(leasesDir(root), 'gc.lock'), String(child.pid));
    await t.throwsAsync(acquireLease(root, 'build', { timeoutMs: 300 }), { message: /garbage collection/ });
  } finally {
    child.kill();
  }
  await new Promise((r) => child.once('exit', r));
  const lease = await acquireLease(root, 'build', { timeoutMs: 2000 });
  t.is((await liveLeases(root)).length, 1);
  await lease.release();
  t.is((await liveLeases(root)).length, 0);
});

test('sizes and durations parse like docker\'s flags', (t) => {
  t.is(parseSize('10GB'), 10 * 1024 ** 3);
  t.is(parseSize('512mb'), 512 * 1024 ** 2);
  t.is(parseSize('1.5k'), 1536);
  t.is(parseSize('42'), 42);
  t.throws(() => parseSize('ten'), { message: /invalid size/ });
  t.is(parseDuration('24h'), 24 * HOUR);
  t.is(parseDuration('1h30m'), 90 * 60_000);
  t.is(parseDuration('7d'), 7 * 24 * HOUR);
  t.throws(() => parseDuration('soon'), { message: /invalid duration/ });
  t.is(formatSize(1536), '1.5KB');
});

test('the checksum cache persists trusted entries and never racy ones', async (t) => {
  const dir = path.join(testRoot, `checksums-${counter++}`);
  const ctx = path.join(testRoot, `ctx-${counter++}`);
  const now = 1_700_000_000_000;
  const old = { dev: 1, ino: 2, size: 3, mtimeMs: now - 60_000, ctimeMs: now - 60_000 };
  // Modified within the racy window before the build started: same identity could hide a new content.
  const racy = { dev: 1, ino: 3, size: 3, mtimeMs: now - 60_000, ctimeMs: now - RACY_MARGIN_MS / 2 };
  const OLD = `sha256:${'1'.repeat(64)}`;
  const RACY = `sha256:${'2'.repeat(64)}`;
  const a = await PersistentChecksumCache.open(dir, ctx, { now: () => now });
  a.set(path.join(ctx, 'old.txt'), old, OLD);
  a.set(path.join(ctx, 'racy.txt'), racy, RACY);
  t.is(a.get(path.join(ctx, 'racy.txt'), racy), RACY, 'usable within the build that hashed it');
  t.true(await a.save());
  const b = await PersistentChecksumCache.open(dir, ctx, { now: () => now + 10_000 });
  t.is(b.get(path.join(ctx, 'old.txt'), old), OLD);
  t.is(b.get(path.join(ctx, 'racy.txt'), racy), undefined);
  t.is(b.get(path.join(ctx, 'old.txt'), { ...old, mtimeMs: old.mtimeMs + 1 }), undefined, 'another mtime is another identity');
  t.false(await b.save(), 'nothing changed: nothing written');
});

test('the checksum cache trusts a fine-grained ctime sooner, a coarse one only after the full margin', async (t) => {
  const dir = path.join(testRoot, `checksums-${counter++}`);
  const ctx = path.join(testRoot, `ctx-${counter++}`);
  const now = 1_700_000_000_000;
  // Written half a second before the build: a nanosecond ctime is safely older than one kernel tick...
  const fine = { dev: 1, ino: 2, size: 3, mtimeMs: now - 500.123456, ctimeMs: now - 500.123456 };
  // ...a whole-millisecond one may come from a file system with 1-2 s timestamps.
  const coarse = { dev: 1, ino: 3, size: 3, mtimeMs: now - 500, ctimeMs: now - 500 };
  // Fine-grained but within the fine margin.
  const fresh = { dev: 1, ino: 4, size: 3, mtimeMs: now - FINE_RACY_MARGIN_MS / 2 - 0.5, ctimeMs: now - FINE_RACY_MARGIN_MS / 2 - 0.5 };
  const digest = (c: string) => `sha256:${c.repeat(64)}`;
  const a = await PersistentChecksumCache.open(dir, ctx, { now: () => now });
  a.set(path.join(ctx, 'fine'), fine, digest('1'));
  a.set(path.join(ctx, 'coarse'), coarse, digest('2'));
  a.set(path.join(ctx, 'fresh'), fresh, digest('3'));
  t.true(await a.save());
  const b = await PersistentChecksumCache.open(dir, ctx, { now: () => now + 10_000 });
  t.is(b.get(path.join(ctx, 'fine'), fine), digest('1'));
  t.is(b.get(path.join(ctx, 'coarse'), coarse), undefined);
  t.is(b.get(path.join(ctx, 'fresh'), fresh), undefined);
  t.true(RACY_MARGIN_MS > 500);
});

test('a context written just before a build is trusted by the next one, and a same-size rewrite is still seen', async (t) => {
  const dir = path.join(testRoot, `checksums-${counter++}`);
  const ctx = path.join(testRoot, `ctx-${counter++}`);
  await mkdir(ctx, { recursive: true });
  const file = path.join(ctx, 'f.txt');
  await writeFile(file, 'one');
  await new Promise((resolve) => setTimeout(resolve, FINE_RACY_MARGIN_MS + 50));
  const st = await stat(file);
  const { checksumSelection } = await import('../builder/context/checksum.js');
  const { BuildContext } = await import('../builder/context/context.js');
  const first = await PersistentChecksumCache.open(dir, ctx);
  const before = await checksumSelection(await BuildContext.open(ctx), ['f.txt'], { cache: first });
  await first.save();
  const key = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  // On a file system with fine timestamps (any the tests run on but FAT) the next build reads it no more.
  if (Number.isInteger(st.ctimeMs)) t.log('whole-millisecond ctime here: the entry waits for the full margin');
  else t.regex((await PersistentChecksumCache.open(dir, ctx)).get(file, key) ?? '', /^sha256:/);
  // Rewritten at once with the same size: a new ctime, so a new identity, so read again.
  await writeFile(file, 'two');
  const second = await PersistentChecksumCache.open(dir, ctx);
  const after = await checksumSelection(await BuildContext.open(ctx), ['f.txt'], { cache: second });
  t.not(after, before);
  t.is(after, await checksumSelection(await BuildContext.open(ctx), ['f.txt']));
});

test('the result index records each use in the entry\'s mtime, once per process', async (t) => {
  const { ResultIndex } = await import('../cache/result-index.js');
  const dir = path.join(testRoot, `index-${counter++}`);
  const index = new ResultIndex<{ layers: string[] }>(dir);
  const key = `sha256:${'c'.repeat(64)}`;
  await index.put(key, { layers: ['x'] });
  const file = path.join(dir, 'cc', `${'c'.repeat(64)}.json`);
  await utimes(file, new Date(Date.now() - HOUR), new Date(Date.now() - HOUR));
  // A fresh index (another process): the lookup reads the file and touches it.
  const other = new ResultIndex<{ layers: string[] }>(dir);
  t.deepEqual(await other.get(key), { layers: ['x'] });
  t.true(Date.now() - (await stat(file)).mtimeMs < 60_000);
  t.is(await other.get(`sha256:${'d'.repeat(64)}`), undefined);
});
