// Overlay mounts for steps that Node itself performs (COPY, ADD, WORKDIR):
// the step writes into the merged view and its changes land in a fresh
// upper dir, which becomes the step's layer and snapshot, exactly like a
// RUN step's. Mount points live under <root>/mounts so that a run killed
// with -9 leaves nothing the next start cannot find and unmount.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OverlayDirs {
  lowerDirs: string[];   // top-most first, as overlayfs wants them
  upperDir: string;
  workDir: string;
}

export async function mountOverlay(target: string, dirs: OverlayDirs): Promise<void> {
  await mkdir(target, { recursive: true });
  // index=off and xino=off: the upper dir is later read as a plain tree and
  // moved; the inode index would tie it to this one mount.
  const opts = `lowerdir=${dirs.lowerDirs.join(':')},upperdir=${dirs.upperDir},workdir=${dirs.workDir},index=off,xino=off`;
  await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, target]);
}

export async function unmount(target: string): Promise<void> {
  try {
    await run('umount', [target]);
  } catch (err) {
    // Busy mounts (a process still holding a file) are detached lazily so
    // they never outlive the step in the mount table.
    await run('umount', ['-l', target]).catch(() => { throw err; });
  }
}

// Runs fn with the merged view mounted; always unmounts.
export async function withOverlay<T>(target: string, dirs: OverlayDirs, fn: (merged: string) => Promise<T>): Promise<T> {
  await mountOverlay(target, dirs);
  try {
    return await fn(target);
  } finally {
    await unmount(target);
    await rm(target, { recursive: true, force: true });
  }
}

// Unmounts whatever a crashed tsbuild left mounted under mountsDir.
export async function cleanupStaleMounts(mountsDir: string): Promise<void> {
  const prefix = path.resolve(mountsDir) + '/';
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const stale = mountinfo.split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => !!mp && mp.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const mp of stale) await run('umount', ['-l', mp]).catch(() => undefined);
  const entries = await readdir(mountsDir).catch(() => [] as string[]);
  for (const e of entries) await rm(path.join(mountsDir, e), { recursive: true, force: true }).catch(() => undefined);
}
