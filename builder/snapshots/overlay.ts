// Overlay mounts for steps that Node itself performs (COPY, ADD, WORKDIR):
// the step writes into the merged view and its changes land in a fresh
// upper dir, which becomes the step's layer and snapshot, exactly like a
// RUN step's. Mount points live under <root>/mounts so that a run killed
// with -9 leaves nothing the next start cannot find and unmount.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { pidOfTempName, processAlive } from '../../cache/process-alive.js';

const run = promisify(execFile);

export interface OverlayDirs {
  lowerDirs: string[];   // top-most first, as overlayfs wants them
  upperDir?: string;     // none: a read-only view (needs two or more lowerdirs)
  workDir?: string;
}

export async function mountOverlay(target: string, dirs: OverlayDirs): Promise<void> {
  await mkdir(target, { recursive: true });
  // index=off and xino=off: the upper dir is later read as a plain tree and
  // moved; the inode index would tie it to this one mount. volatile: without
  // it every unmount syncs the whole host filesystem (~1 s here); the upper
  // dir is never mounted again, and its layer blob is fsynced by the store.
  // redirect_dir/metacopy off: whatever the kernel's defaults, the upper dir
  // must be a self-contained diff the layer writer can read on its own.
  const upper = dirs.upperDir ? `,upperdir=${dirs.upperDir},workdir=${dirs.workDir},volatile,redirect_dir=off,metacopy=off` : '';
  const opts = `lowerdir=${dirs.lowerDirs.join(':')}${upper},index=off,xino=off`;
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
    // rmdir, never a recursive rm: if the unmount had silently failed, a
    // recursive delete would reach into the mounted layers.
    await rmdir(target).catch(() => undefined);
  }
}

// Unmounts what a crashed tsbuild left under mountsDir. Mount points are
// named `<label>-<pid>-<random>`: those of live processes are left alone.
export async function cleanupStaleMounts(mountsDir: string): Promise<void> {
  const entries = (await readdir(mountsDir).catch(() => [] as string[]))
    .filter((e) => { const pid = pidOfTempName(e); return pid !== undefined && !processAlive(pid); });
  if (entries.length === 0) return;
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const mounted = mountinfo.split('\n').map((line) => line.split(' ')[4]).filter(Boolean);
  for (const e of entries) {
    const dir = path.join(path.resolve(mountsDir), e);
    const inside = mounted.filter((mp) => mp === dir || mp.startsWith(dir + '/')).sort((a, b) => b.length - a.length);
    for (const mp of inside) await run('umount', ['-l', mp]).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  }
}

export function mountPointName(label: string): string {
  return `${label}-${process.pid}-${randomBytes(6).toString('hex')}`;
}
