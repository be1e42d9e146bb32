// Opens the local store (content, images, snapshots, cache index) and
// tidies what a crashed or killed tsbuild left behind: the store itself is
// always consistent, only temp files, temp dirs and mounts can be stale.
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { listDir } from '../../cache/list-dir.js';
import path from 'node:path';
import { pidOfTempName, processAlive } from '../../cache/process-alive.js';
import { ContentStore } from '../../cache/content-store.js';
import { ResultIndex } from '../../cache/result-index.js';
import { ImageStore } from '../image/store.js';
import { cleanupStaleMounts } from '../snapshots/overlay.js';
import { SnapshotStore } from '../snapshots/snapshot-store.js';
import { InFlightSteps } from '../solver/in-flight.js';
import type { StepResult } from './step-result.js';
import { StoreAccessError } from './errors.js';
import { storePaths, type StorePaths } from './store-paths.js';

export interface Store {
  paths: StorePaths;
  content: ContentStore;
  images: ImageStore;
  snapshots: SnapshotStore;
  index: ResultIndex<StepResult>;
  // Steps builds of this process are running right now on this store (one
  // set per store root), so that concurrent builds run a shared step once.
  inFlight: InFlightSteps;
}

const inFlightByRoot = new Map<string, InFlightSteps>();

function inFlightOf(root: string): InFlightSteps {
  const key = path.resolve(root);
  let steps = inFlightByRoot.get(key);
  if (!steps) inFlightByRoot.set(key, steps = new InFlightSteps());
  return steps;
}

export async function openStore(root: string): Promise<Store> {
  const paths = storePaths(root);
  // Synchronous: each is one syscall finding the dir there (every command
  // opens the store), where a threadpool round trip each costs more.
  try {
    for (const dir of Object.values(paths)) mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreAccessError(root, err as NodeJS.ErrnoException);
  }
  const content = new ContentStore(paths.content);
  return {
    paths,
    content,
    images: new ImageStore(paths.root, content),
    snapshots: new SnapshotStore(paths.snapshots, content),
    index: new ResultIndex<StepResult>(paths.cacheIndex),
    inFlight: inFlightOf(root),
  };
}

// A process looks through a store's leftovers at most once a second: the
// CLI's memo asks its build again right after it (cli/local-memo-record.ts),
// when what a dead tsbuild left was just removed, and what one that dies
// in between leaves is the next command's to remove.
const CLEANED_WITHIN_MS = 1000;
const cleanedAt = new Map<string, number>();

// Only for commands that build or run: they are the ones that mount.
// Everything a dead tsbuild left carries its pid in its name; a live
// process's (a concurrent build's) is left alone.
export async function cleanupStale(store: Store): Promise<void> {
  const last = cleanedAt.get(path.resolve(store.paths.root));
  if (last !== undefined && Date.now() - last < CLEANED_WITHIN_MS) return;
  await cleanupStaleNow(store);
  cleanedAt.set(path.resolve(store.paths.root), Date.now());
}

async function cleanupStaleNow(store: Store): Promise<void> {
  // Unmount first: rw bind uppers live under state/.
  await cleanupStaleMounts(store.paths.mounts);
  // The rest touch separate folders: looked at together, not one after another.
  await Promise.all([
    cleanupStaleState(store.paths.state),
    removeDeadPidEntries('/dev/shm', 'tsbuild-secret-'),
    // The image index's next version waits under a temp name until the image's blobs are durable.
    removeDeadPidEntries(store.paths.images, '.tmp-'),
    removeDeadPidEntries(store.images.recordsDir, '.tmp-'),
    store.snapshots.removeStaleTemp(),
    store.content.cleanTemp(),
  ]);
}

async function cleanupStaleState(state: string): Promise<void> {
  // The sandbox runtime loads only when it left state behind: a cached build never runs it.
  const sandboxState = path.join(state, 'sandbox');
  if (listDir(sandboxState).length > 0) {
    const { cleanupStale: cleanupStaleSandboxes } = await import('../../runner-native/index.js');
    await cleanupStaleSandboxes(sandboxState).catch(() => undefined);
  }
  await removeDeadPidEntries(state);
}

async function removeDeadPidEntries(dir: string, prefix = ''): Promise<void> {
  for (const e of listDir(dir)) {
    if (!e.startsWith(prefix)) continue;
    const pid = pidOfTempName(e);
    if (pid !== undefined && !processAlive(pid)) await rm(path.join(dir, e), { recursive: true, force: true }).catch(() => undefined);
  }
}
