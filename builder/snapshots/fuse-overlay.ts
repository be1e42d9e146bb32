// Overlay views made by fuse-overlayfs, where the kernel refuses its own
// overlayfs (a user namespace on an older or restricted kernel). The FUSE
// server mounts in this process's mount namespace and serves until the
// view is released; it runs in the foreground as our child with a parent
// death signal, so a killed tsbuild takes it along and nothing keeps
// serving a mount nobody will release.
//
// Its upper dir is nearly overlayfs' own: whiteouts are 0/0 character
// devices, but an opaque directory carries `user.fuseoverlayfs.opaque`
// (never trusted.* in a user namespace) and two marker entries. release()
// rewrites those into overlayfs' format, so the layer writer reads every
// snapshotter's upper dir the same way.
import { spawn } from 'node:child_process';
import { lstat, lutimes, mkdir, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { hostFsop, MNT_DETACH } from '../../runner-native/fsop.js';
import { createSpecialFiles } from '../../cache/special-files.js';
import { OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX } from '../../cache/whiteout.js';
import { writeXattrs } from '../../cache/xattrs.js';
import type { MountedOverlay, OverlayDirs } from './overlay.js';
import { lowersShow } from './lower-lookup.js';

export const FUSE_OVERLAYFS = '/usr/bin/fuse-overlayfs';
const FUSE_OPAQUE_XATTRS = ['user.fuseoverlayfs.opaque', 'trusted.overlay.opaque'];
// fuse-overlayfs' own extra opaque marker: a whiteout of the name ".opq".
const FUSE_OPAQUE_MARK = `${WHITEOUT_PREFIX}.opq`;
const READY_TIMEOUT_MS = 10_000;

async function mountedAt(target: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return info.split('\n').some((l) => l.split(' ')[4] === target);
}

export async function mountFuseOverlay(target: string, dirs: OverlayDirs): Promise<MountedOverlay> {
  await mkdir(target, { recursive: true });
  const opts = [`lowerdir=${dirs.lowerDirs.join(':')}`, ...(dirs.upperDir ? [`upperdir=${dirs.upperDir}`, `workdir=${dirs.workDir}`] : [])];
  // allow_other: the sandbox's processes run as other (mapped) users.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', FUSE_OVERLAYFS, '-f', '-o', [...opts, 'allow_other'].join(','), target], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let gone = false;
  void exited.then(() => { gone = true; });
  child.once('error', (err) => { stderr += err.message; });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await mountedAt(target))) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rmdir(target).catch(() => undefined);
      const why = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('unknown argument ignored')).at(-1);
      throw new Error(`fuse-overlayfs could not mount ${target}: ${why ?? (gone ? `exited with ${child.exitCode}` : 'not ready in time')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // The server must not keep tsbuild alive.
  child.unref();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const release = async () => {
    await unmountFuse(target);
    // Every request through our mount has been answered (the upper dir is
    // complete), but a mount namespace made while the view existed (a
    // sandbox of a parallel step or build) may still hold a copy of the
    // mount, which keeps the server alive: it is stopped rather than
    // awaited, with its handle referenced so Node waits for its exit.
    child.ref();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
    await rmdir(target).catch(() => undefined);
    if (dirs.upperDir) await toOverlayFormat(dirs.upperDir, dirs.lowerDirs);
  };
  return { target, path: target, release };
}

// A process of the view's last user may still be exiting (EBUSY): a few
// tries before the mount is detached lazily.
async function unmountFuse(target: string): Promise<void> {
  const fsop = hostFsop();
  const [dir, name] = [path.dirname(target), path.basename(target)];
  for (let attempt = 0; ; attempt++) {
    try {
      return await fsop.unmount(dir, name);
    } catch (err) {
      if (attempt >= 20) return fsop.unmount(dir, name, MNT_DETACH);
      if ((err as { code?: string }).code !== 'EBUSY') throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Rewrites fuse-overlayfs' opaque markers and any `.wh.` whiteout files
 * into overlayfs' format. fuse-overlayfs marks every directory it makes
 * opaque; overlayfs only one made where a lower layer has that path (over a
 * whiteout), and never one inside a directory that is opaque already.
 */
async function toOverlayFormat(upper: string, lowerDirs: string[]): Promise<void> {
  const fsop = hostFsop();
  const opaque: string[] = [];
  const whiteouts: string[] = [];
  // Directories whose entries change here keep the times the step gave them.
  const times = new Map<string, { atime: Date; mtime: Date }>();
  const touch = async (dir: string) => {
    if (!times.has(dir)) { const st = await lstat(dir); times.set(dir, { atime: st.atime, mtime: st.mtime }); }
  };
  const walk = async (rel: string, underOpaque: boolean): Promise<void> => {
    const dir = path.join(upper, rel);
    const marks: string[] = [];
    for (const name of rel ? FUSE_OPAQUE_XATTRS : []) {
      if ((await fsop.getXattr(upper, rel, name).catch(() => null))?.toString() === 'y') marks.push(name);
    }
    let marked = marks.length > 0;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(WHITEOUT_PREFIX) && !entry.isDirectory()) await touch(dir);
      if (entry.name === OPAQUE_WHITEOUT || entry.name === FUSE_OPAQUE_MARK) {
        marked = true;
        await unlink(path.join(dir, entry.name));
      } else if (entry.name.startsWith(WHITEOUT_PREFIX) && entry.isFile()) {
        await unlink(path.join(dir, entry.name));
        whiteouts.push(rel ? `${rel}/${entry.name.slice(WHITEOUT_PREFIX.length)}` : entry.name.slice(WHITEOUT_PREFIX.length));
      }
    }
    const isOpaque = marked && rel !== '' && !underOpaque && await lowersShow(lowerDirs, rel);
    if (isOpaque) opaque.push(rel);
    for (const name of marks) await fsop.removeXattr(upper, rel, name);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(rel ? `${rel}/${entry.name}` : entry.name, underOpaque || isOpaque);
    }
  };
  await walk('', false);
  if (whiteouts.length > 0) {
    const { mtimeMs } = await lstat(upper);
    await createSpecialFiles(upper, whiteouts.map((rel) => [rel, { type: 'char', mode: 0, uid: 0, gid: 0, mtime: mtimeMs / 1000, devmajor: 0, devminor: 0 }]), false);
  }
  await writeXattrs(upper, opaque.map((rel) => [rel, new Map([[OVERLAY_OPAQUE_XATTR, Buffer.from('y')]])]));
  for (const [dir, t] of times) await lutimes(dir, t.atime, t.mtime);
}
