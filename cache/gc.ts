// Garbage collection of the build cache. Removes, least recently used
// first, cache index entries and then the blobs and snapshots that neither
// an image of the store nor a remaining entry refers to. Images' own blobs
// (manifests, configs, layers) and the snapshots of their layers are never
// removed: a tagged image stays runnable and exportable. The caller holds
// the collector lock (gc-lease.ts), so no build is running meanwhile.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from './digest.js';
import { scanStore, treeBytes, type CacheEntryInfo, type GcRoots, type StoreLayout, type StoreScan } from './gc-scan.js';
import { contextCacheBytes, removeContextBlob, removeContextTree, scanContextCache, type ContextCacheScan, type ContextTree } from './context-gc.js';

export interface PruneOptions {
  // Also entries whose layers all belong to images, and cache mounts.
  all?: boolean;
  // Stop once blobs + snapshots take at most this many bytes.
  keepStorageBytes?: number;
  // Only what was last used at least this long ago.
  untilMs?: number;
  // Blobs and snapshots that nothing refers to yet are kept this long
  // (default 15 min): `tsbuild load`/`pull` write blobs before the image
  // that refers to them, without a build lease.
  orphanGraceMs?: number;
  now?: number;
}

export interface PruneReport {
  entriesRemoved: number;
  blobsRemoved: number;
  snapshotsRemoved: number;
  cacheMountsRemoved: number;
  // The server's context cache: client contexts (warm trees) and file contents.
  contextsRemoved: number;
  contextFilesRemoved: number;
  bytesFreed: number;
  // Blobs + snapshots left.
  bytesLeft: number;
}

export type SnapshotSizer = ((dir: string) => Promise<number>) & { forget?: (dir: string) => void };

export function usedByImages(entry: CacheEntryInfo, scan: Pick<StoreScan, 'imageBlobs'>): boolean {
  return entry.blobs.length > 0 && entry.blobs.every((b) => scan.imageBlobs.has(b));
}

export async function prune(layout: StoreLayout, roots: GcRoots, opts: PruneOptions, sizeOf: SnapshotSizer): Promise<PruneReport> {
  const now = opts.now ?? Date.now();
  const scan = await scanStore(layout, roots, sizeOf);
  const context = layout.contextCacheDir === undefined ? undefined : await scanContextCache(layout.contextCacheDir);
  const report: PruneReport = { entriesRemoved: 0, blobsRemoved: 0, snapshotsRemoved: 0, cacheMountsRemoved: 0, contextsRemoved: 0, contextFilesRemoved: 0, bytesFreed: 0, bytesLeft: 0 };
  const oldEnough = (mtimeMs: number) => opts.untilMs === undefined || now - mtimeMs >= opts.untilMs;

  // How many remaining entries use each blob / snapshot dir.
  const blobRefs = new Map<string, number>();
  const snapshotRefs = new Map<string, number>();
  const bump = (map: Map<string, number>, k: string, by: number) => map.set(k, (map.get(k) ?? 0) + by);
  const snapshotDirsOf = (e: CacheEntryInfo) => e.diffIds.map((d) => layout.snapshotDirOf(d as Digest));
  for (const e of scan.entries) {
    for (const b of new Set(e.blobs)) bump(blobRefs, b, 1);
    for (const s of new Set(snapshotDirsOf(e))) bump(snapshotRefs, s, 1);
  }
  let total = sum(scan.blobs.values()) + sum(scan.snapshots.values()) + (context ? contextCacheBytes(context) : 0);
  const overLimit = () => opts.keepStorageBytes === undefined || total > opts.keepStorageBytes;

  const dropBlob = async (digest: string) => {
    const item = scan.blobs.get(digest);
    if (!item || scan.imageBlobs.has(digest) || (blobRefs.get(digest) ?? 0) > 0) return;
    await layout.content.delete(digest as Digest);
    scan.blobs.delete(digest);
    total -= item.bytes;
    report.bytesFreed += item.bytes;
    report.blobsRemoved++;
  };
  const dropSnapshot = async (dir: string) => {
    const item = scan.snapshots.get(dir);
    if (!item || scan.imageSnapshotDirs.has(dir) || (snapshotRefs.get(dir) ?? 0) > 0) return;
    await rm(dir, { recursive: true, force: true });
    sizeOf.forget?.(dir);
    scan.snapshots.delete(dir);
    total -= item.bytes;
    report.bytesFreed += item.bytes;
    report.snapshotsRemoved++;
  };

  // What nothing refers to goes first: it costs no cache hit.
  const grace = opts.orphanGraceMs ?? 15 * 60_000;
  const orphanOk = (mtimeMs: number) => oldEnough(mtimeMs) && now - mtimeMs >= grace;
  for (const digest of [...scan.blobs.keys()]) if (overLimit() && orphanOk(scan.blobs.get(digest)!.mtimeMs)) await dropBlob(digest);
  for (const dir of [...scan.snapshots.keys()]) if (overLimit() && orphanOk(scan.snapshots.get(dir)!.mtimeMs)) await dropSnapshot(dir);
  const contextGc = context && new ContextCollector(context, orphanOk, (bytes) => {
    total -= bytes;
    report.bytesFreed += bytes;
  }, report);
  await contextGc?.dropOrphans(overLimit);

  const dropEntry = async (e: CacheEntryInfo) => {
    // The entry goes before its layers: an entry never points at a missing blob.
    await rm(e.file, { force: true });
    report.entriesRemoved++;
    report.bytesFreed += e.fileBytes;
    for (const b of new Set(e.blobs)) bump(blobRefs, b, -1);
    const dirs = new Set(snapshotDirsOf(e));
    for (const s of dirs) bump(snapshotRefs, s, -1);
    for (const b of new Set(e.blobs)) await dropBlob(b);
    for (const s of dirs) await dropSnapshot(s);
  };
  // Then, least recently used first, cache entries and the clients' warm
  // contexts: both cost a rebuild (or a re-upload) when needed again.
  const candidates: { lastUsedMs: number; drop(): Promise<void> }[] = scan.entries
    .filter((e) => (opts.all || !usedByImages(e, scan)) && oldEnough(e.lastUsedMs))
    .map((e) => ({ lastUsedMs: e.lastUsedMs, drop: () => dropEntry(e) }));
  // A context used within the grace period may belong to a build about to start.
  for (const tree of context?.trees ?? []) if (orphanOk(tree.lastUsedMs)) candidates.push({ lastUsedMs: tree.lastUsedMs, drop: () => contextGc!.dropTree(tree) });
  for (const c of candidates.sort((a, b) => a.lastUsedMs - b.lastUsedMs)) {
    if (!overLimit()) break;
    await c.drop();
  }

  if (opts.all && opts.keepStorageBytes === undefined) {
    for (const name of await readdir(layout.cacheMountsDir).catch(() => [] as string[])) {
      const dir = path.join(layout.cacheMountsDir, name);
      report.bytesFreed += await treeBytes(dir);
      await rm(dir, { recursive: true, force: true });
      report.cacheMountsRemoved++;
    }
  }
  report.bytesLeft = total;
  return report;
}

// The context cache's side of a collection: contents no warm context lists
// go once out of their grace period; a context removed takes the contents
// only it listed with it.
class ContextCollector {
  private readonly refs = new Map<string, number>();

  constructor(private readonly scan: ContextCacheScan, private readonly orphanOk: (mtimeMs: number) => boolean, private readonly freed: (bytes: number) => void, private readonly report: PruneReport) {
    for (const t of scan.trees) for (const d of t.digests) this.refs.set(d, (this.refs.get(d) ?? 0) + 1);
  }

  async dropOrphans(overLimit: () => boolean): Promise<void> {
    for (const dir of this.scan.deadTmp) {
      if (!overLimit()) return;
      await rm(dir.name, { recursive: true, force: true });
      this.freed(dir.bytes);
    }
    for (const digest of [...this.scan.blobs.keys()]) if (overLimit()) await this.dropBlob(digest);
  }

  async dropTree(tree: ContextTree): Promise<void> {
    await removeContextTree(tree.dir);
    this.report.contextsRemoved++;
    this.freed(tree.bytes);
    for (const d of tree.digests) this.refs.set(d, (this.refs.get(d) ?? 0) - 1);
    for (const d of tree.digests) await this.dropBlob(d);
  }

  private async dropBlob(digest: string): Promise<void> {
    const item = this.scan.blobs.get(digest);
    if (!item || (this.refs.get(digest) ?? 0) > 0 || !this.orphanOk(item.mtimeMs)) return;
    await removeContextBlob(this.scan, digest);
    this.scan.blobs.delete(digest);
    this.report.contextFilesRemoved++;
    this.freed(item.bytes);
  }
}

function sum(items: Iterable<{ bytes: number }>): number {
  let n = 0;
  for (const i of items) n += i.bytes;
  return n;
}
