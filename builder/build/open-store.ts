// Opens the local store (content, images, snapshots, cache index) and
// tidies what a crashed or killed tsbuild left behind: the store itself is
// always consistent, only temp files, temp dirs and mounts can be stale.
import { mkdir } from 'node:fs/promises';
import { ContentStore } from '../../cache/content-store.js';
import { ResultIndex } from '../../cache/result-index.js';
import { ImageStore } from '../image/store.js';
import { cleanupStaleMounts } from '../snapshots/overlay.js';
import { SnapshotStore } from '../snapshots/snapshot-store.js';
import type { StepResult } from './step-result.js';
import { storePaths, type StorePaths } from './store-paths.js';

export interface Store {
  paths: StorePaths;
  content: ContentStore;
  images: ImageStore;
  snapshots: SnapshotStore;
  index: ResultIndex<StepResult>;
}

export async function openStore(root?: string): Promise<Store> {
  const paths = storePaths(root);
  await Promise.all(Object.values(paths).map((dir) => mkdir(dir, { recursive: true })));
  const content = new ContentStore(paths.content);
  return {
    paths,
    content,
    images: new ImageStore(paths.root, content),
    snapshots: new SnapshotStore(paths.snapshots, content),
    index: new ResultIndex<StepResult>(paths.cacheIndex),
  };
}

// Only for commands that build or run: they are the ones that mount.
export async function cleanupStale(store: Store): Promise<void> {
  await cleanupStaleMounts(store.paths.mounts);
  await store.snapshots.removeStaleTemp();
  await store.content.cleanTemp();
}
