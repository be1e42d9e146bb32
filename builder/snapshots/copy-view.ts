// native-copy: views without any overlay, where neither the kernel's
// overlayfs nor fuse-overlayfs can be mounted. A view is a plain directory
// holding a copy of its layers, applied bottom-up (each snapshot read as the
// layer it is, whiteouts deleting what lies beneath). A writable view
// remembers what each path was once copied; when it is released, what the
// step changed is written to the upper dir in overlayfs' format, so the
// layer made from it is the very tar an overlay mount would have given:
// - a path that is new, or whose inode or birth time changed (deleted and
//   made again), is in the upper dir; a directory made where something else
//   was is opaque, as overlayfs marks one made over a whiteout;
// - a path whose type, mode, owner, size, mtime or ctime changed is in it
//   (ctime alone: chmod, chown, xattrs; a link count change alone, from a
//   hard link added or removed elsewhere, is not a change of this path);
// - a path that is gone is a whiteout, unless its parent is gone too;
// - the parents of all of these are in it with their current metadata.
// Files go into the upper dir as hard links of the view's copy, which is
// then removed: nothing is copied twice.
//
// Slow (every view copies its layers) but correct. Known difference from
// overlayfs: opening a file for writing without changing it leaves it out.
import { PassThrough } from 'node:stream';
import { type BigIntStats, lstatSync, readdirSync } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { applyLayer } from '../../cache/layer-unpack.js';
import { tarFromOverlayUpper } from '../../cache/layer-diff.js';
import { createSpecialFiles } from '../../cache/special-files.js';
import { OVERLAY_OPAQUE_XATTR } from '../../cache/whiteout.js';
import { isPortableXattr, readXattrTree, writeXattrs, type Xattrs } from '../../cache/xattrs.js';
import type { MountedOverlay, OverlayDirs } from './overlay.js';

interface Seen {
  ino: bigint;
  birth: bigint;
  ctime: bigint;
  mtime: bigint;
  size: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  nlink: bigint;
}

// ctime moves with the kernel's coarse clock (one tick is a few ms): after
// the copy is recorded, a tick passes before the step may change anything,
// so any change it makes gets a ctime of its own.
const CLOCK_TICK_MS = 25;

/** Applies lowerDirs (topmost first, each an overlay-format snapshot) bottom-up into target. */
export async function copyLayers(lowerDirs: string[], target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const lower of [...lowerDirs].reverse()) {
    const tar = new PassThrough({ highWaterMark: 1 << 20 });
    const written = tarFromOverlayUpper(lower, tar);
    await Promise.all([written, applyLayer(tar, target, { overlayWhiteouts: false })]);
  }
}

function walk(root: string, fn: (rel: string, st: BigIntStats) => boolean | void): void {
  const dirs = [''];
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    for (const name of readdirSync(dir ? path.join(root, dir) : root)) {
      const rel = dir ? `${dir}/${name}` : name;
      const st = lstatSync(path.join(root, rel), { bigint: true });
      // fn returns false to skip a directory's contents
      if (fn(rel, st) !== false && st.isDirectory()) dirs.push(rel);
    }
  }
}

function record(st: BigIntStats): Seen {
  return { ino: st.ino, birth: st.birthtimeNs, ctime: st.ctimeNs, mtime: st.mtimeNs, size: st.size, mode: st.mode, uid: st.uid, gid: st.gid, nlink: st.nlink };
}

const typeOf = (mode: bigint) => mode & 0o170000n;

export async function mountCopyView(target: string, dirs: OverlayDirs): Promise<MountedOverlay> {
  await rm(target, { recursive: true, force: true });
  try {
    await copyLayers(dirs.lowerDirs, target);
  } catch (err) {
    await rm(target, { recursive: true, force: true });
    throw err;
  }
  const upper = dirs.upperDir;
  if (!upper) return { target, path: target, release: () => rm(target, { recursive: true, force: true }) };
  const before = new Map<string, Seen>();
  walk(target, (rel, st) => { before.set(rel, record(st)); });
  await new Promise((resolve) => setTimeout(resolve, CLOCK_TICK_MS));
  const release = async () => {
    try {
      await writeDiff(target, before, upper);
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  };
  return { target, path: target, release };
}

function changed(was: Seen, st: BigIntStats): boolean {
  if (st.mode !== was.mode || st.uid !== was.uid || st.gid !== was.gid || st.size !== was.size || st.mtimeNs !== was.mtime) return true;
  return st.ctimeNs !== was.ctime && st.nlink === was.nlink;
}

/** Writes what changed in merged since `before` into upper, in overlayfs' format. */
async function writeDiff(merged: string, before: Map<string, Seen>, upper: string): Promise<void> {
  const files: string[] = [];
  const dirs = new Map<string, { st: BigIntStats; opaque: boolean }>();
  const present = new Set<string>();
  // directories made in this step: nothing beneath them needs a whiteout
  const fresh = new Set<string>();
  const stats = new Map<string, BigIntStats>();
  const include = (rel: string) => {
    for (let p = path.posix.dirname(rel); p !== '.' && !dirs.has(p); p = path.posix.dirname(p)) dirs.set(p, { st: stats.get(p)!, opaque: false });
  };
  walk(merged, (rel, st) => {
    present.add(rel);
    stats.set(rel, st);
    const parent = path.posix.dirname(rel);
    const was = before.get(rel);
    const underFresh = parent !== '.' && fresh.has(parent);
    const remade = was !== undefined && (typeOf(was.mode) !== typeOf(st.mode) || was.ino !== st.ino || was.birth !== st.birthtimeNs);
    const isNew = underFresh || was === undefined || remade;
    if (st.isDirectory()) {
      if (isNew) fresh.add(rel);
      if (isNew || changed(was!, st)) {
        include(rel);
        // made where the view showed something else (opaque), unless inside a directory made here
        dirs.set(rel, { st, opaque: remade && !underFresh });
      }
      return;
    }
    if (isNew || changed(was!, st)) {
      include(rel);
      files.push(rel);
    }
  });
  // A hard link made to an old file: overlayfs copies the old name up to
  // link it, so that name is in the upper dir too.
  const linkedInodes = new Set(files.filter((rel) => stats.get(rel)!.nlink > 1n).map((rel) => stats.get(rel)!.ino));
  if (linkedInodes.size > 0) {
    const listed = new Set(files);
    for (const [rel, st] of stats) {
      if (!st.isDirectory() && !listed.has(rel) && linkedInodes.has(st.ino)) { include(rel); files.push(rel); }
    }
  }
  const whiteouts: string[] = [];
  for (const rel of before.keys()) {
    if (present.has(rel)) continue;
    const parent = path.posix.dirname(rel);
    if (parent !== '.' && (!present.has(parent) || fresh.has(parent))) continue;
    // a path of the old tree whose place now holds another type is covered by that entry
    include(rel);
    whiteouts.push(rel);
  }
  // Parents first; their metadata once everything is in them.
  const dirList = [...dirs.keys()].sort((a, b) => a.length - b.length);
  for (const rel of dirList) await mkdir(path.join(upper, rel));
  await Promise.all(files.map((rel) => link(path.join(merged, rel), path.join(upper, rel))));
  if (whiteouts.length > 0) {
    const now = Date.now() / 1000;
    await createSpecialFiles(upper, whiteouts.map((rel) => [rel, { type: 'char', mode: 0, uid: 0, gid: 0, mtime: now, devmajor: 0, devminor: 0 }]), false);
  }
  const xattrs = dirList.length > 0 ? await readXattrTree(merged) : new Map<string, Xattrs>();
  const attrs: [string, Xattrs][] = [];
  for (const rel of dirList) {
    const portable = new Map([...(xattrs.get(rel) ?? new Map<string, Buffer>())].filter(([name]) => isPortableXattr(name)));
    if (dirs.get(rel)!.opaque) portable.set(OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    if (portable.size > 0) attrs.push([rel, portable]);
  }
  await writeXattrs(upper, attrs);
  for (const rel of [...dirList].reverse()) {
    const { st } = dirs.get(rel)!;
    const abs = path.join(upper, rel);
    await lchown(abs, Number(st.uid), Number(st.gid));
    await chmod(abs, Number(st.mode & 0o7777n));
    await lutimes(abs, st.atime, st.mtime);
  }
}
