// The server's context cache as `du` and the collector see it. `tsbuild
// serve` keeps what clients synced under `<root>/context`:
//   blobs/    file contents by digest (a ContentStore), uploaded once;
//   trees/<id>/ and trees/<id>.manifest.json: a client context materialised
//             from those contents, kept warm for its next build (the
//             manifest's mtime is its last use);
//   tmp/<pid>-<n>/: a context of one running build, removed when it ends.
// A content is needed while a tree's manifest lists it. Running builds hold
// a lease (the collector runs only without any), and what a client was told
// the server has, or just uploaded, is fresh (mtime) for the grace period:
// a sync whose build has not started yet keeps its contents.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ContentStore } from './content-store.js';
import type { Digest } from './digest.js';
import { treeBytes, type SizedItem } from './gc-scan.js';
import { processAlive } from './process-alive.js';

export interface ContextCacheLayout {
  blobs: ContentStore;
  trees: string;
  tmp: string;
}

export function contextCacheLayout(base: string): ContextCacheLayout {
  return { blobs: new ContentStore(path.join(base, 'blobs')), trees: path.join(base, 'trees'), tmp: path.join(base, 'tmp') };
}

/** Where a tree's manifest lives: beside the tree, never inside it (the build must not see it). */
export function treeManifestFile(treeDir: string): string {
  return `${treeDir}.manifest.json`;
}

export interface ContextTree {
  dir: string;
  lastUsedMs: number;
  bytes: number;
  digests: Set<string>;
}

export interface ContextCacheScan {
  layout: ContextCacheLayout;
  trees: ContextTree[];
  blobs: Map<string, SizedItem>;
  // Contexts of running builds: in use, never reclaimable.
  liveTmpBytes: number;
  // Left by a killed server: garbage.
  deadTmp: SizedItem[];
}

export async function scanContextCache(base: string): Promise<ContextCacheScan> {
  const layout = contextCacheLayout(base);
  const trees: ContextTree[] = [];
  for (const name of await readdir(layout.trees).catch(() => [] as string[])) {
    if (!name.endsWith('.manifest.json')) continue;
    const manifest = path.join(layout.trees, name);
    const dir = manifest.slice(0, -'.manifest.json'.length);
    const [st, text] = await Promise.all([stat(manifest).catch(() => null), readFile(manifest, 'utf8').catch(() => undefined)]);
    if (!st) continue;
    const digests = new Set<string>();
    try {
      for (const e of JSON.parse(text ?? '[]') as { digest?: unknown }[]) if (typeof e.digest === 'string') digests.add(e.digest);
    } catch {
      // A damaged manifest protects nothing; its tree is rebuilt on next use anyway.
    }
    trees.push({ dir, lastUsedMs: st.mtimeMs, bytes: st.size + (await treeBytes(dir)), digests });
  }
  const blobs = new Map<string, SizedItem>();
  for await (const d of layout.blobs.list()) {
    const st = await stat(layout.blobs.path(d)).catch(() => null);
    if (st) blobs.set(d, { name: d, bytes: st.blocks * 512, mtimeMs: st.mtimeMs });
  }
  let liveTmpBytes = 0;
  const deadTmp: SizedItem[] = [];
  for (const name of await readdir(layout.tmp).catch(() => [] as string[])) {
    const dir = path.join(layout.tmp, name);
    const bytes = await treeBytes(dir);
    // Named `<pid>-<n>` by the server that made it.
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && processAlive(pid)) liveTmpBytes += bytes;
    else deadTmp.push({ name: dir, bytes, mtimeMs: 0 });
  }
  return { layout, trees, blobs, liveTmpBytes, deadTmp };
}

export function contextCacheBytes(scan: ContextCacheScan): number {
  let n = scan.liveTmpBytes;
  for (const t of scan.trees) n += t.bytes;
  for (const b of scan.blobs.values()) n += b.bytes;
  for (const d of scan.deadTmp) n += d.bytes;
  return n;
}

/** Removes a context tree: its manifest first, so a half-removed tree is never trusted. */
export async function removeContextTree(dir: string): Promise<void> {
  await rm(treeManifestFile(dir), { force: true });
  await rm(dir, { recursive: true, force: true });
}

export function removeContextBlob(scan: ContextCacheScan, digest: string): Promise<void> {
  return scan.layout.blobs.delete(digest as Digest);
}
