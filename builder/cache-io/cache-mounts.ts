// `RUN --mount=type=cache` directories in the exported cache (mounts=true):
// each directory the build used becomes one tar blob, named in the cache
// config by the mount's id; importing unpacks it into an empty store's
// cache-mounts before the build. A directory the store already has is
// kept: it is at least as fresh as anything imported.
import { createHash } from '../../runner-native/native-crypto.js';
import { createWriteStream } from 'node:fs';
import { chmod, chown, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CacheMountRef } from '../../cache/cache-manifest.js';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { applyLayer } from '../../cache/layer-unpack.js';
import { tarFromDir } from '../../cache/layer-diff.js';
import type { BuildGraph } from '../../frontend/graph/types.js';
import { MediaType } from '../image/types.js';
import { exportBlobOf, type CompressionChoice } from './compress.js';

// Must name directories exactly as builder/steps/run-mounts.ts does.
export function cacheMountDirName(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32);
}

// The cache mount ids the build's RUN steps use.
export function cacheMountIds(graph: BuildGraph): string[] {
  const ids = new Set<string>();
  for (const stage of graph.stages) {
    for (const step of stage.steps) {
      if (step.kind !== 'run') continue;
      for (const m of step.mounts) if (m.type === 'cache') ids.add(m.id ?? m.target);
    }
  }
  return [...ids].sort();
}

// Tars (and compresses) each existing cache directory into the content store.
export async function exportCacheMounts(content: ContentStore, memoDir: string, cacheMountsDir: string, ids: string[], choice: CompressionChoice): Promise<CacheMountRef[]> {
  const out: CacheMountRef[] = [];
  for (const id of ids) {
    const dir = path.join(cacheMountsDir, cacheMountDirName(id));
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const tmp = await content.newTempPath('cache-mount');
    try {
      const { diffId } = await tarFromDir(dir, createWriteStream(tmp));
      const { digest, size } = await content.putFile(tmp, diffId);
      const blob = await exportBlobOf(content, memoDir, { diffId, blob: digest, size, mediaType: MediaType.ociLayer }, choice);
      out.push({ ...blob, id, diffId, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    } finally {
      await rm(tmp, { force: true });
    }
  }
  return out;
}

// Unpacks an imported cache mount unless the store has that directory;
// fetch brings the blob into the content store first. Returns whether it did.
export async function importCacheMount(content: ContentStore, cacheMountsDir: string, mount: CacheMountRef, fetch: () => Promise<void>): Promise<boolean> {
  const final = path.join(cacheMountsDir, cacheMountDirName(mount.id));
  if (await stat(final).then(() => true, () => false)) return false;
  await fetch();
  const tmp = path.join(cacheMountsDir, `tmp-import-${process.pid}-${cacheMountDirName(mount.id)}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    const { diffId } = await applyLayer(content.openRead(mount.digest as Digest), tmp);
    if (diffId !== mount.diffId) throw new Error(`cache mount ${mount.id}: blob ${mount.digest} unpacks to ${diffId}, the cache says ${mount.diffId}`);
    await chmod(tmp, mount.mode);
    await chown(tmp, mount.uid, mount.gid);
    // A concurrent build that created the directory first wins; ours is dropped.
    await rename(tmp, final).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return true;
}
