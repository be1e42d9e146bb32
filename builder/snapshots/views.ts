// A view of stacked layers through whichever snapshotter this process uses
// (snapshotter.ts): the kernel's overlayfs, fuse-overlayfs or a copy. Each
// leaves a writable view's changes in its upper dir, in overlayfs' format,
// once released.
import path from 'node:path';
import { mountCopyView } from './copy-view.js';
import { mountFuseOverlay } from './fuse-overlay.js';
import { type MountSpace, type MountedOverlay, type OverlayDirs, mountOverlay } from './overlay.js';
import { currentSnapshotter } from './snapshotter.js';

export async function mountView(target: string, dirs: OverlayDirs, space: MountSpace = 'private'): Promise<MountedOverlay> {
  const { name } = await currentSnapshotter(path.dirname(target));
  if (name === 'fuse-overlayfs') return mountFuseOverlay(target, dirs);
  if (name === 'native-copy') return mountCopyView(target, dirs);
  return mountOverlay(target, dirs, space);
}

// Runs fn with the view mounted; always releases it (a writable view's upper dir is complete then).
export async function withView<T>(target: string, dirs: OverlayDirs, fn: (merged: string) => Promise<T>): Promise<T> {
  const view = await mountView(target, dirs);
  try {
    return await fn(view.path);
  } finally {
    await view.release();
  }
}
