import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Stats } from 'node:fs';
import { corruptTar, unsafeEntry } from './errors.js';

/**
 * Helpers for overlay mode, where each layer is unpacked into its own
 * directory and the layers below it are separate directories (topmost first).
 */

/** lstat of root/rel, or null if it or any parent is missing or not a real directory. */
export async function lstatInRoot(root: string, rel: string): Promise<Stats | null> {
  let cur = root;
  const parts = rel.split('/');
  for (let i = 0; i < parts.length; i++) {
    cur = path.join(cur, parts[i]);
    let st: Stats;
    try {
      st = await fsp.lstat(cur);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw e;
    }
    if (i === parts.length - 1) return st;
    if (!st.isDirectory()) return null;
  }
  return null;
}

function isOverlayWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/**
 * Creates a directory the tar did not list but needs as a parent. When a
 * lower layer has that directory, its owner, mode and time are copied so
 * the merged view does not change them; otherwise root:root 0755 (Docker's
 * choice). A lower symlink there is refused, as it is in merged snapshots:
 * a real directory would silently shadow it.
 */
export async function makeImplicitDir(abs: string, rel: string, lowerDirs: string[], sameOwner: boolean): Promise<void> {
  let model: Stats | null = null;
  for (const lower of lowerDirs) {
    const st = await lstatInRoot(lower, rel);
    if (!st) continue;
    if (isOverlayWhiteout(st)) break;
    if (st.isSymbolicLink()) throw unsafeEntry(rel, `parent ${rel} is a symlink in a lower layer`);
    if (!st.isDirectory()) throw corruptTar(`parent ${rel} is not a directory in a lower layer`);
    model = st;
    break;
  }
  await fsp.mkdir(abs, 0o755);
  if (!model) return;
  if (sameOwner) await fsp.lchown(abs, model.uid, model.gid);
  await fsp.chmod(abs, model.mode & 0o7777);
  await fsp.lutimes(abs, model.mtime, model.mtime);
}

/**
 * Copies a regular file or symlink from the topmost lower layer that has
 * it (content, owner, mode, time). Returns false when no lower has it or
 * it is not a file/symlink. xattrs are not copied.
 */
export async function copyFromLower(lowerDirs: string[], rel: string, destAbs: string, sameOwner: boolean): Promise<boolean> {
  for (const lower of lowerDirs) {
    const st = await lstatInRoot(lower, rel);
    if (!st) continue;
    const src = path.join(lower, rel);
    if (st.isSymbolicLink()) {
      await fsp.symlink(await fsp.readlink(src), destAbs);
      if (sameOwner) await fsp.lchown(destAbs, st.uid, st.gid);
      await fsp.lutimes(destAbs, st.mtime, st.mtime);
      return true;
    }
    if (!st.isFile()) return false;
    const from = await fsp.open(src, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const to = await fsp.open(destAbs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of from.createReadStream({ autoClose: false, highWaterMark: 1 << 20 })) {
          await to.write(chunk as Buffer);
        }
        if (sameOwner) await to.chown(st.uid, st.gid);
        await to.chmod(st.mode & 0o7777);
        await to.utimes(st.atime, st.mtime);
      } finally {
        await to.close();
      }
    } finally {
      await from.close();
    }
    return true;
  }
  return false;
}
