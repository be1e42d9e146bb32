// A step's view of its parent's filesystem: the parent's layer snapshots
// stacked with overlayfs. Mutable views collect the step's changes in a
// fresh upper dir, which then becomes the step's layer.
import path from 'node:path';
import type { Store } from '../store/open-store.js';
import type { StepResult } from '../store/step-result.js';
import { type MountSpace, mountPointName } from '../snapshots/overlay.js';
import { mountView, withView } from '../snapshots/views.js';
import { currentSnapshotter } from '../snapshots/snapshotter.js';
import { PendingLayer, type LayerWrites } from '../snapshots/pending-layer.js';
import type { RootLayers } from '../../runner-native/index.js';
import type { CommitIndexOptions, CommitOptions, Workspace } from '../snapshots/snapshot-store.js';

// Top-most first, as overlayfs wants them. Snapshots missing on disk (a
// pruned store, a cache imported from elsewhere) are unpacked from their blobs.
export async function lowerDirsOf(store: Store, result: StepResult, status?: (text: string, id: string) => void): Promise<string[]> {
  // Bottom-up, since unpacking a layer may need the layers beneath it.
  const dirs: string[] = [];
  for (const layer of result.layers) {
    // A layer still being written: its files are in the step's upper dir.
    const unpublished = layer instanceof PendingLayer ? layer.unpublishedDir : undefined;
    if (unpublished !== undefined) {
      dirs.unshift(unpublished);
      continue;
    }
    // A layer unpacked during its download is reported too, with the time
    // that unpack took.
    const streamed = store.snapshots.streamedUnpack(layer.blob);
    const report = status && (streamed || !(await store.snapshots.has(layer.diffId)))
      ? extractingStatus(layer.blob, status, streamed?.startedAt) : undefined;
    const dir = await store.snapshots.ensure(layer, [...dirs]);
    report?.(streamed?.endedAt);
    // Overlayfs refuses a lowerdir given twice (ELOOP). A layer that comes
    // back (the empty layer of every step that changed nothing, the same
    // COPY twice) is the same content: only its topmost place matters.
    const earlier = dirs.indexOf(dir);
    if (earlier >= 0) dirs.splice(earlier, 1);
    dirs.unshift(dir);
  }
  // Overlayfs needs a lowerdir, and two when there is no upper dir: the
  // empty snapshot fills in for `FROM scratch` and single-layer images.
  return [...dirs, await store.snapshots.empty()];
}

// `extracting sha256:...` now and `extracting sha256:... 1.2s done` when
// the returned function is called, as BuildKit reports a layer's unpack.
function extractingStatus(blob: string, status: (text: string, id: string) => void, startedAt = Date.now()): (endedAt?: number) => void {
  const id = `extracting ${blob}`;
  status(id, id);
  return (endedAt = Date.now()) => status(`${id} ${((endedAt - startedAt) / 1000).toFixed(1)}s done`, id);
}

// Adds the workspace's changes as a layer on top of parent (an empty one
// when the step changed nothing). With `writes`, the layer's blob is
// written in the background (snapshots/pending-layer.ts) and the result is
// returned at once.
export async function commitStep(store: Store, parent: StepResult, ws: Workspace, opts: CommitOptions, writes?: LayerWrites): Promise<StepResult> {
  const layer = writes ? writes.start(ws, opts) : await store.snapshots.commit(ws, opts);
  return { layers: [...parent.layers, layer], stepAdded: [...parent.stepAdded, true] };
}

// Runs fn on a writable merged view of parent; its changes become the step's layer.
// fn also gets the workspace (its upper dir) for what it may place there directly.
// `directUpper`: fn may place files in ws.upper itself (the view is the kernel's overlay of it).
// `index` (COPY, ADD): the layer gets an index, see SnapshotStore.commit.
// `writes`: the layer is written in the background, see commitStep.
export async function withMutableRootfs(store: Store, parent: StepResult, sourceDateEpoch: number | undefined,
  fn: (root: string, ws: Workspace, directUpper: boolean) => Promise<void>, index?: CommitIndexOptions, writes?: LayerWrites): Promise<StepResult> {
  const lowerDirs = await lowerDirsOf(store, parent);
  const ws = await store.snapshots.workspace();
  try {
    const directUpper = (await currentSnapshotter(store.paths.mounts)).name === 'overlayfs';
    await withView(path.join(store.paths.mounts, mountPointName('step')), { lowerDirs, upperDir: ws.upper, workDir: ws.work }, (root) => fn(root, ws, directUpper));
  } catch (err) {
    await store.snapshots.discard(ws);
    throw err;
  }
  return commitStep(store, parent, ws, { sourceDateEpoch, index }, writes);
}

// A read-only view of a result's filesystem (COPY --from, RUN --mount from=).
// Private unless another process (the RUN sandbox) must see it.
export async function mountReadonlyRootfs(store: Store, result: StepResult, space: MountSpace = 'private'): Promise<{ root: string; release(): Promise<void> }> {
  const lowerDirs = await lowerDirsOf(store, result);
  const view = await mountView(path.join(store.paths.mounts, mountPointName('src')), { lowerDirs }, space);
  return { root: view.path, release: view.release };
}

export async function withReadonlyRootfs<T>(store: Store, result: StepResult, fn: (root: string) => Promise<T>): Promise<T> {
  const view = await mountReadonlyRootfs(store, result);
  try {
    return await fn(view.root);
  } finally {
    await view.release();
  }
}

// The root of a RUN sandbox: the kernel's overlay is mounted by the sandbox
// itself at ws.merged (rootLayers); another snapshotter's view is mounted
// here, under the store's mounts (where a killed run's leftovers are
// found), and bound as the root. finish() completes ws.upper.
export async function sandboxRoot(store: Store, lowerDirs: string[], ws: Workspace): Promise<{ rootPath: string; rootLayers?: RootLayers; finish(): Promise<void> }> {
  const rootLayers = { lowerDirs, upperDir: ws.upper, workDir: ws.work };
  if ((await currentSnapshotter(store.paths.mounts)).name === 'overlayfs') return { rootPath: ws.merged, rootLayers, finish: async () => undefined };
  const view = await mountView(path.join(store.paths.mounts, mountPointName('run')), rootLayers, 'host');
  let finished: Promise<void> | undefined;
  return { rootPath: view.path, finish: () => (finished ??= view.release()) };
}
