// `tsbuild du`: what the store takes on disk, by kind, and how much of it is
// reclaimable (what no image of the store and no container needs: `prune
// --all` would free it). Also the consistency check of the cache index:
// every entry's layer blobs exist and hold the bytes their digest names.
import { createHash } from '../runner-native/native-crypto.js';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from './digest.js';
import { usedByImages } from './gc.js';
import { scanStore, treeBytes, type GcRoots, type StoreLayout, type StoreScan } from './gc-scan.js';
import { scanContextCache } from './context-gc.js';

export interface UsageLine {
  count: number;
  bytes: number;
  reclaimableCount: number;
  reclaimableBytes: number;
}

export interface CacheEntryUsage {
  key: string;
  lastUsed: Date;
  layers: number;
  // Bytes of blobs and snapshots that only this entry needs.
  exclusiveBytes: number;
  usedByImage: boolean;
}

export interface DiskUsageReport {
  images: number;
  blobs: UsageLine;
  snapshots: UsageLine;
  cacheEntries: UsageLine;
  cacheMounts: UsageLine;
  // The server's synced client contexts (count: warm contexts) and their file contents.
  contextCache: UsageLine;
  totalBytes: number;
  reclaimableBytes: number;
  entries: CacheEntryUsage[];
}

export async function diskUsage(layout: StoreLayout, roots: GcRoots, sizeOf: (dir: string) => Promise<number>): Promise<{ report: DiskUsageReport; scan: StoreScan }> {
  const scan = await scanStore(layout, roots, sizeOf);
  const blobs = line();
  for (const [digest, item] of scan.blobs) add(blobs, item.bytes, !scan.imageBlobs.has(digest));
  const snapshots = line();
  for (const [dir, item] of scan.snapshots) add(snapshots, item.bytes, !scan.imageSnapshotDirs.has(dir));
  const cacheEntries = line();
  for (const e of scan.entries) add(cacheEntries, e.fileBytes, true);
  const cacheMounts = line();
  for (const name of await readdir(layout.cacheMountsDir).catch(() => [] as string[])) {
    add(cacheMounts, await treeBytes(path.join(layout.cacheMountsDir, name)), true);
  }
  const contextCache = line();
  if (layout.contextCacheDir !== undefined) {
    const context = await scanContextCache(layout.contextCacheDir);
    for (const t of context.trees) add(contextCache, t.bytes, true);
    // Contents count under their contexts; a running build's context is not reclaimable.
    for (const b of context.blobs.values()) addBytes(contextCache, b.bytes, true);
    for (const d of context.deadTmp) addBytes(contextCache, d.bytes, true);
    addBytes(contextCache, context.liveTmpBytes, false);
  }
  const all = [blobs, snapshots, cacheEntries, cacheMounts, contextCache];
  const report: DiskUsageReport = {
    images: roots.manifests.length,
    blobs, snapshots, cacheEntries, cacheMounts, contextCache,
    totalBytes: all.reduce((n, l) => n + l.bytes, 0),
    reclaimableBytes: all.reduce((n, l) => n + l.reclaimableBytes, 0),
    entries: entryUsage(layout, scan),
  };
  return { report, scan };
}

function entryUsage(layout: StoreLayout, scan: StoreScan): CacheEntryUsage[] {
  const users = new Map<string, number>();
  for (const e of scan.entries) {
    for (const b of new Set(e.blobs)) users.set(b, (users.get(b) ?? 0) + 1);
    for (const d of new Set(e.diffIds)) users.set(layout.snapshotDirOf(d), (users.get(layout.snapshotDirOf(d)) ?? 0) + 1);
  }
  return scan.entries
    .map((e) => {
      let exclusive = 0;
      for (const b of new Set(e.blobs)) if (users.get(b) === 1 && !scan.imageBlobs.has(b)) exclusive += scan.blobs.get(b)?.bytes ?? 0;
      for (const d of new Set(e.diffIds)) {
        const dir = layout.snapshotDirOf(d);
        if (users.get(dir) === 1 && !scan.imageSnapshotDirs.has(dir)) exclusive += scan.snapshots.get(dir)?.bytes ?? 0;
      }
      return { key: e.key, lastUsed: new Date(e.lastUsedMs), layers: e.blobs.length, exclusiveBytes: exclusive, usedByImage: usedByImages(e, scan) };
    })
    .sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/**
 * Problems of the cache index: entries whose layer blobs are missing, or
 * (with `verifyDigests`) whose bytes do not hash to their digest.
 */
export async function checkCacheEntries(layout: StoreLayout, scan: StoreScan, opts: { verifyDigests?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const verified = new Map<string, Promise<boolean>>();
  for (const e of scan.entries) {
    if (e.blobs.length !== e.diffIds.length) problems.push(`cache entry ${e.key}: unreadable or malformed`);
    for (const b of e.blobs) {
      if (!scan.blobs.has(b)) {
        problems.push(`cache entry ${e.key}: layer blob ${b} is missing`);
        continue;
      }
      if (!opts.verifyDigests) continue;
      let ok = verified.get(b);
      if (!ok) {
        ok = hashMatches(layout.content.path(b as Digest), b);
        verified.set(b, ok);
      }
      if (!(await ok)) problems.push(`cache entry ${e.key}: layer blob ${b} does not match its digest`);
    }
  }
  return problems;
}

async function hashMatches(file: string, digest: string): Promise<boolean> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch {
    return false;
  }
  return `sha256:${hash.digest('hex')}` === digest;
}

function line(): UsageLine {
  return { count: 0, bytes: 0, reclaimableCount: 0, reclaimableBytes: 0 };
}

function add(l: UsageLine, bytes: number, reclaimable: boolean): void {
  l.count++;
  l.bytes += bytes;
  if (reclaimable) {
    l.reclaimableCount++;
    l.reclaimableBytes += bytes;
  }
}

// Bytes that belong to the line's items without being items of their own.
function addBytes(l: UsageLine, bytes: number, reclaimable: boolean): void {
  l.bytes += bytes;
  if (reclaimable) l.reclaimableBytes += bytes;
}
