// A snapshot of what the store holds and what refers to what, shared by
// `du`, `prune`, the after-build size limit and the consistency check:
//  - roots: the images the store knows (their manifest, config and layer
//    blobs, and the snapshots of their layers) and the snapshots that
//    containers use as lowerdirs;
//  - cache entries (cache key → layer chain), each with its last use (mtime);
//  - blobs and snapshots with their sizes.
// Nothing here deletes anything.
import { readFileSync, type Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from './content-store.js';
import { isDigest, type Digest } from './digest.js';
import { lstatQuiet, statQuiet } from './quiet-stat.js';
import { listDir } from './list-dir.js';

/** Where things are; the builder knows the layout, cache/ only walks it. */
export interface StoreLayout {
  root: string;
  content: ContentStore;
  cacheIndexDir: string;
  snapshotsDir: string;
  cacheMountsDir: string;
  // The server's context cache (cache/context-gc.ts), when the store has one.
  contextCacheDir?: string;
  // Snapshot dir of a layer (the builder names them by diff id).
  snapshotDirOf(diffId: Digest): string;
}

export interface GcRoots {
  // Every image the store knows, tagged or not: their blobs are never removed.
  manifests: Digest[];
  // Host paths in use outside builds (containers' lowerdirs).
  snapshotDirsInUse: string[];
}

export interface CacheEntryInfo {
  key: string;
  file: string;
  lastUsedMs: number;
  fileBytes: number;
  blobs: Digest[];
  diffIds: Digest[];
}

export interface SizedItem {
  name: string;          // blob digest, or snapshot dir path
  bytes: number;
  mtimeMs: number;
}

export interface StoreScan {
  imageBlobs: Set<string>;
  imageSnapshotDirs: Set<string>;
  // Problems met while reading image roots (missing or unreadable manifests).
  rootProblems: string[];
  entries: CacheEntryInfo[];
  blobs: Map<string, SizedItem>;
  snapshots: Map<string, SizedItem>;
}

/** Reads the manifests (and image indexes) of the roots: which blobs and snapshots images need. */
export async function imageReferences(layout: StoreLayout, roots: GcRoots): Promise<{ blobs: Set<string>; snapshotDirs: Set<string>; problems: string[] }> {
  const blobs = new Set<string>();
  const snapshotDirs = new Set<string>(roots.snapshotDirsInUse.map((p) => path.resolve(p)));
  const visit = async (digest: Digest, problems: string[]): Promise<void> => {
    if (blobs.has(digest)) return;
    blobs.add(digest);
    let doc: { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
    try {
      doc = JSON.parse((await layout.content.readBuffer(digest)).toString('utf8'));
    } catch (err) {
      problems.push(`image ${digest}: manifest unreadable (${(err as Error).message})`);
      return;
    }
    for (const m of doc.manifests ?? []) if (isDigest(m.digest)) await visit(m.digest, problems);
    for (const l of doc.layers ?? []) if (isDigest(l.digest)) blobs.add(l.digest);
    if (doc.config && isDigest(doc.config.digest)) {
      blobs.add(doc.config.digest);
      try {
        const config = JSON.parse((await layout.content.readBuffer(doc.config.digest)).toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
        for (const d of config.rootfs?.diff_ids ?? []) if (isDigest(d)) snapshotDirs.add(layout.snapshotDirOf(d));
      } catch (err) {
        problems.push(`image ${digest}: config ${doc.config.digest} unreadable (${(err as Error).message})`);
      }
    }
  };
  // Images are read side by side (a store with many was read one blob at a
  // time); each one's problems are reported in the order of the roots.
  const problems = await Promise.all(roots.manifests.map(async (m) => {
    const found: string[] = [];
    await visit(m, found);
    return found;
  }));
  return { blobs, snapshotDirs, problems: problems.flat() };
}

/**
 * Every cache index entry with the layers its result holds. The entries are
 * small files read with synchronous calls, yielding to the event loop
 * every few shard directories (two awaited threadpool round trips per
 * entry made a store of a few hundred entries take tens of ms to list).
 */
export async function listCacheEntries(layout: StoreLayout): Promise<CacheEntryInfo[]> {
  const out: CacheEntryInfo[] = [];
  let batch = 0;
  for (const shard of listDir(layout.cacheIndexDir)) {
    if (++batch % 16 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const dir = path.join(layout.cacheIndexDir, shard);
    for (const name of listDir(dir)) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      const file = path.join(dir, name);
      const st = statQuiet(file);
      const text = st && readQuiet(file);
      if (!st || text === undefined) continue;
      const blobs: Digest[] = [];
      const diffIds: Digest[] = [];
      try {
        const result = JSON.parse(text) as { layers?: { blob?: string; diffId?: string }[] };
        for (const l of result.layers ?? []) {
          if (l.blob && isDigest(l.blob)) blobs.push(l.blob);
          if (l.diffId && isDigest(l.diffId)) diffIds.push(l.diffId);
        }
      } catch {
        // A damaged entry refers to nothing: it is simply removed by prune.
      }
      out.push({ key: `sha256:${name.slice(0, 64)}`, file, lastUsedMs: st.mtimeMs, fileBytes: st.size, blobs, diffIds });
    }
  }
  return out;
}

/** Blobs of the content store with their sizes. */
export async function listBlobs(layout: StoreLayout): Promise<Map<string, SizedItem>> {
  const out = new Map<string, SizedItem>();
  for await (const d of layout.content.list()) {
    const st = statQuiet(layout.content.path(d));
    if (st) out.set(d, { name: d, bytes: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** A published snapshot's dir name (hex of its diff id), not a temp dir (`tmp-…`) nor the shared `empty` one. */
export function isSnapshotName(name: string): boolean {
  return /^[0-9a-f]+$/.test(name);
}

/** Snapshot dirs (not temp dirs, not the shared empty one), sized with `sizeOf`. */
export async function listSnapshots(layout: StoreLayout, sizeOf: (dir: string) => Promise<number>): Promise<Map<string, SizedItem>> {
  const out = new Map<string, SizedItem>();
  for (const name of await readdir(layout.snapshotsDir).catch(() => [] as string[])) {
    if (!isSnapshotName(name)) continue;
    const dir = path.join(layout.snapshotsDir, name);
    const st = await lstat(dir).catch(() => null);
    if (st?.isDirectory()) out.set(dir, { name: dir, bytes: await sizeOf(dir), mtimeMs: st.mtimeMs });
  }
  return out;
}

// How many files a walk looks at between two turns of the event loop.
const WALK_BATCH = 1000;

/**
 * Bytes a directory tree takes on disk (allocated blocks, each hard-linked
 * file once), like `du -s`. Synchronous calls in batches: a 5,000-file
 * snapshot took 75-200 ms of threadpool round trips walked one awaited
 * lstat at a time, ~20 ms this way, and between batches a server's other
 * builds still get their turn.
 */
export async function treeBytes(dir: string, seen = new Set<string>()): Promise<number> {
  let total = 0;
  let batch = 0;
  const pending = [dir];
  for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
    if (++batch === WALK_BATCH) {
      batch = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const st = lstatQuiet(p);
    if (!st) continue;
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) continue;
    seen.add(id);
    total += st.blocks * 512;
    if (st.isDirectory()) for (const name of listDir(p)) pending.push(path.join(p, name));
  }
  return total;
}

function readQuiet(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export async function scanStore(layout: StoreLayout, roots: GcRoots, sizeOfSnapshot: (dir: string) => Promise<number>): Promise<StoreScan> {
  const [refs, entries, blobs, snapshots] = await Promise.all([
    imageReferences(layout, roots),
    listCacheEntries(layout),
    listBlobs(layout),
    listSnapshots(layout, sizeOfSnapshot),
  ]);
  return { imageBlobs: refs.blobs, imageSnapshotDirs: refs.snapshotDirs, rootProblems: refs.problems, entries, blobs, snapshots };
}
