/**
 * Small write helpers shared by the copier and the archive extractor. They
 * take host paths that were produced by the in-root resolver, or such a path
 * plus one new name, so they never follow a symlink out of the rootfs.
 */
import { chmod, lchown, lstat, mkdir } from 'node:fs/promises';
import { lstatSync, lutimesSync, type Stats } from 'node:fs';
import path from 'node:path';
import { hostFsop } from '../../runner-native/fsop.js';
import { CannotCopyError } from './errors.js';
import { hostPathOf, isNotExist, resolveInRoot, type Resolved } from './resolve.js';
import type { Owner } from './chown.js';

/** Ownership can only be changed as root; unprivileged test runs keep their own ids. */
export const canChangeOwner = process.getuid?.() === 0;

export async function setOwner(host: string, owner: Owner): Promise<void> {
  if (canChangeOwner) await lchown(host, owner.uid, owner.gid);
}

export async function lstatOrNull(host: string): Promise<Stats | null> {
  try {
    return await lstat(host);
  } catch (err) {
    if (isNotExist(err)) return null;
    throw err;
  }
}

/** lstatOrNull without the threadpool: for the few lstats on a step's critical path. */
export function lstatSyncOrNull(host: string): Stats | null {
  try {
    return lstatSync(host);
  } catch (err) {
    if (isNotExist(err)) return null;
    throw err;
  }
}

export interface MkdirAllOptions {
  readonly mode: number;
  /** Owner of created directories; null keeps the builder's (root). */
  readonly owner: Owner | null;
}

/**
 * `mkdir -p` inside a root: symlinks on the way are followed within the root,
 * missing directories are created with `mode` (umask ignored) and `owner`.
 * Returns the resolved directory.
 */
// `created`: the directory itself did not exist and was made here.
export async function mkdirAllInRoot(root: string, inRootPath: string, options: MkdirAllOptions): Promise<Resolved & { created: boolean }> {
  const resolved = await resolveInRoot(root, inRootPath);
  const parts = resolved.inRoot.split('/').filter(Boolean);
  let current = '/';
  let created = false;
  for (const part of parts) {
    current = current === '/' ? `/${part}` : `${current}/${part}`;
    const host = hostPathOf(root, current);
    // One lstat per component, synchronous (as the resolver's): a threadpool round trip each sat on the COPY's path.
    const st = lstatSyncOrNull(host);
    created = false;
    if (st) {
      if (!st.isDirectory()) throw new CannotCopyError(`cannot create directory ${JSON.stringify(inRootPath)}: ${current} is not a directory`);
      continue;
    }
    await mkdir(host, options.mode);
    await chmod(host, options.mode);
    if (options.owner) await setOwner(host, options.owner);
    created = true;
  }
  return { ...resolved, exists: true, created };
}

/** Linux dev_t split (glibc's gnu_dev_major/minor). */
export function devMajorMinor(rdev: number): { major: number; minor: number } {
  const big = BigInt(rdev);
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
  const minor = Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
  return { major, minor };
}

/**
 * Node has no mknod(2): the fsop helper makes device nodes and FIFOs. The
 * parent is the resolver's output, so the node is created in it by name.
 */
export async function makeNode(host: string, kind: 'c' | 'b' | 'p', mode: number, major = 0, minor = 0): Promise<void> {
  const keep = 0xffffffff; // owner: set by the caller
  await hostFsop().mknod(path.dirname(host), path.basename(host), {
    kind: kind === 'c' ? 'char' : kind === 'b' ? 'block' : 'fifo', mode, major, minor, uid: keep, gid: keep,
  });
}

export async function setTimes(host: string, atime: Date, mtime: Date): Promise<void> {
  // lutimes sets the times of a symlink itself instead of its target.
  // Synchronous: one cheap metadata syscall, for which a threadpool round
  // trip cost the copier's main thread several times the call itself (it
  // runs once per copied file; layer-walk.ts does the same for lstat).
  lutimesSync(host, atime, mtime);
}
