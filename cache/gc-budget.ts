// The cheap side of a size limit: what the store takes, counted as prune
// counts it (blobs + snapshots + the server's context cache), from
// remembered sizes. When that is within the limit, a collection would
// remove nothing: neither the images' manifests nor the cache entries need
// reading, and the size limit enforced after every build costs two
// readdirs (plus measuring what the build added).
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { contextCacheBytes, scanContextCache } from './context-gc.js';
import { isSnapshotName, type StoreLayout } from './gc-scan.js';
import type { StoreSizes } from './gc-sizes.js';

export async function storeBytes(layout: StoreLayout, sizes: StoreSizes): Promise<number> {
  const [blobDigests, snapshotDirs, context] = await Promise.all([
    listAll(layout.content.list()),
    readdir(layout.snapshotsDir, { withFileTypes: true }).catch(() => [] as Dirent[]),
    layout.contextCacheDir === undefined ? undefined : scanContextCache(layout.contextCacheDir),
  ]);
  let total = context ? contextCacheBytes(context) : 0;
  const blobs = new Set<string>();
  for (const digest of blobDigests) {
    const bytes = sizes.blobBytes(digest, layout.content.path(digest));
    if (bytes === undefined) continue;
    blobs.add(digest);
    total += bytes;
  }
  const snapshots = new Set<string>();
  for (const d of snapshotDirs) {
    if (!d.isDirectory() || !isSnapshotName(d.name)) continue;
    snapshots.add(d.name);
    total += await sizes.sizeOf(path.join(layout.snapshotsDir, d.name));
  }
  sizes.keepOnly(snapshots, blobs);
  return total;
}

async function listAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
