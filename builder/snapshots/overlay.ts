// Overlay mounts for steps that Node itself performs (COPY, ADD, WORKDIR)
// and for read-only views of a result (COPY --from, RUN --mount from=):
// the step writes into the merged view and its changes land in a fresh
// upper dir, which becomes the step's layer and snapshot, exactly like a
// RUN step's.
//
// Mounts are made by syscall through the fsop helper. Those only Node
// reads or writes live in the helper's private mount namespace and are
// reached through /proc/<helper>/root: when tsbuild is killed, even with
// -9, the helper dies with it and the kernel drops its mounts, so nothing
// is ever left mounted on the host. Views another process must see (the
// RUN sandbox binds them) are mounted on the host; their mount points live
// under <root>/mounts, named after our pid, so whatever a killed run left
// is found and unmounted by the next start or by `du --check`.
import { mkdirSync, rmdirSync } from 'node:fs';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { listDir } from '../../cache/list-dir.js';
import path from 'node:path';
import { randomBytes } from '../../runner-native/native-crypto.js';
import { pidOfTempName, processAlive } from '../../cache/process-alive.js';
import { type FsopHelper, MNT_DETACH, hostFsop, privateFsop } from '../../runner-native/fsop.js';
import { inUserNamespace } from '../../runner-native/index.js';

export interface OverlayDirs {
  lowerDirs: string[];   // top-most first, as overlayfs wants them
  upperDir?: string;     // none: a read-only view (needs two or more lowerdirs)
  workDir?: string;
}

/** host: seen by every process (a sandbox binds it); private: only by tsbuild itself. */
export type MountSpace = 'host' | 'private';

export interface MountedOverlay {
  /** The mount point as a host path (its directory exists on the host). */
  readonly target: string;
  /** Where Node reaches the merged view. */
  readonly path: string;
  /** Unmounts and removes the mount point. */
  release(): Promise<void>;
}

function overlayOptions(dirs: OverlayDirs): string {
  // index=off and xino=off: the upper dir is later read as a plain tree and
  // moved; the inode index would tie it to this one mount. volatile: without
  // it every unmount syncs the whole host filesystem (~1 s here); the upper
  // dir is never mounted again, and its layer blob is fsynced by the store.
  // redirect_dir/metacopy off: whatever the kernel's defaults, the upper dir
  // must be a self-contained diff the layer writer can read on its own.
  // In a user namespace (rootless) the kernel keeps overlay's own xattrs in
  // user.overlay.* (userxattr), which also rules out redirect_dir/metacopy.
  const diffOnly = inUserNamespace() ? 'userxattr' : 'redirect_dir=off,metacopy=off';
  const upper = dirs.upperDir ? `,upperdir=${dirs.upperDir},workdir=${dirs.workDir},volatile,${diffOnly}` : (inUserNamespace() ? ',userxattr' : '');
  return `lowerdir=${dirs.lowerDirs.join(':')}${upper},index=off,xino=off`;
}

// The mount point is made and removed by synchronous calls: one empty dir,
// where a threadpool round trip queues behind the build's layer writes
// (every COPY mounts one view, COPY --from two).
export async function mountOverlay(target: string, dirs: OverlayDirs, space: MountSpace = 'private'): Promise<MountedOverlay> {
  mkdirSync(target, { recursive: true });
  const fsop = space === 'host' ? hostFsop() : privateFsop();
  try {
    await fsop.mount(path.dirname(target), path.basename(target), 'overlay', 'overlay', overlayOptions(dirs));
  } catch (err) {
    removeMountPoint(target);
    throw err;
  }
  return { target, path: fsop.viewPath(target), release: () => release(fsop, target) };
}

async function release(fsop: FsopHelper, target: string): Promise<void> {
  await unmountWith(fsop, target);
  removeMountPoint(target);
}

// rmdir, never a recursive rm: if the unmount had silently failed, a
// recursive delete would reach into the mounted layers.
function removeMountPoint(target: string): void {
  try {
    rmdirSync(target);
  } catch {
    // still mounted after all, or gone: left to the next start's cleanup
  }
}

async function unmountWith(fsop: FsopHelper, target: string): Promise<void> {
  // A private helper that died took its mounts with it.
  if (fsop.privateMounts && !fsop.alive) return;
  const dir = path.dirname(target);
  const name = path.basename(target);
  try {
    await fsop.unmount(dir, name);
  } catch (err) {
    // Busy mounts (a process still holding a file) are detached lazily so
    // they never outlive the step in the mount table.
    await fsop.unmount(dir, name, MNT_DETACH).catch(() => { throw err; });
  }
}

/** Host mount points under mountsDir (or mountsDir itself), deepest first. */
export async function hostMountsUnder(mountsDir: string): Promise<string[]> {
  const dir = path.resolve(mountsDir);
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return mountinfo.split('\n').map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((mp) => mp.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

// Unmounts what a crashed tsbuild left under mountsDir. Mount points are
// named `<label>-<pid>-<random>`: those of live processes are left alone.
// Returns the mount points it unmounted.
export async function cleanupStaleMounts(mountsDir: string): Promise<string[]> {
  const entries = listDir(mountsDir)
    .filter((e) => { const pid = pidOfTempName(e); return pid !== undefined && !processAlive(pid); });
  if (entries.length === 0) return [];
  const mounted = await hostMountsUnder(mountsDir);
  const unmounted: string[] = [];
  for (const e of entries) {
    const dir = path.join(path.resolve(mountsDir), e);
    const mine = mounted.filter((m) => m === dir || m.startsWith(dir + '/'));
    for (const mp of mine) {
      await hostFsop().unmount(path.dirname(mp), path.basename(mp), MNT_DETACH).then(() => unmounted.push(mp), () => undefined);
    }
    // A copy view (native-copy) is a plain tree: removed whole, but only
    // once nothing is mounted there (a recursive delete must never reach
    // into mounted layers).
    const stillMounted = unmounted.length < mine.length || (await hostMountsUnder(mountsDir)).some((m) => m === dir || m.startsWith(dir + '/'));
    if (stillMounted) await rmdir(dir).catch(() => undefined);
    else await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  return unmounted;
}

export function mountPointName(label: string): string {
  return `${label}-${process.pid}-${randomBytes(6).toString('hex')}`;
}
