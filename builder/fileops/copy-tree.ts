/**
 * Copy one source entry (file, symlink, special file, or a directory's tree)
 * to a destination host path inside the rootfs, with fsutil's `cp -a`-like
 * rules as used by BuildKit:
 *  - symlinks are copied as symlinks (targets untouched);
 *  - hard links between copied files are kept;
 *  - existing directories are merged (their mode/owner/times overwritten for
 *    directories inside the source tree), existing files replaced, a file can
 *    never replace a directory nor a directory a non-directory;
 *  - --exclude / --parents include patterns are matched against the path
 *    relative to the copied source; directories that only lead to included
 *    files are created with their source metadata on the way.
 * The destination path given must already be resolved inside the root; below
 * it every name is lstat'ed and never followed.
 */
import { chmod, copyFile, link, mkdir, readlink, symlink, unlink } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import path from 'node:path';
import type { PatternMatcher } from '../context/pattern-matcher.js';
import type { Owner } from './chown.js';
import { CannotCopyError } from './errors.js';
import { devMajorMinor, lstatOrNull, makeNode, setOwner, setTimes } from './fs-write.js';
import { applyMode, type ModeSpec } from './mode.js';
import type { SourceTree } from './source-tree.js';

export interface CopySummary {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  specialFiles: number;
  bytes: number;
}

export function emptySummary(): CopySummary {
  return { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, specialFiles: 0, bytes: 0 };
}

export interface TreeCopyOptions {
  /** Host path of the destination rootfs (for error messages). */
  readonly destRoot: string;
  /** --chown owner; null keeps the source owner (or root for the context). */
  readonly owner: Owner | null;
  readonly mode?: ModeSpec;
  readonly include?: PatternMatcher;
  readonly exclude?: PatternMatcher;
  readonly summary: CopySummary;
}

interface ParentDir {
  readonly srcInRoot: string;
  readonly dstHost: string;
  copied: boolean;
}

export class TreeCopier {
  /** Source inode → destination path, to recreate hard links. */
  private readonly inodes = new Map<string, string>();
  private readonly parentDirs: ParentDir[] = [];

  constructor(
    private readonly source: SourceTree,
    private readonly options: TreeCopyOptions,
  ) {}

  /** Copy the resolved source `srcInRoot` to `dstHost` (whose parent exists). */
  copy(srcInRoot: string, dstHost: string): Promise<void> {
    return this.copyEntry(srcInRoot, '', dstHost, false);
  }

  private async copyEntry(srcInRoot: string, rel: string, dstHost: string, overwriteMeta: boolean): Promise<void> {
    const { include: includeMatcher, exclude: excludeMatcher } = this.options;
    let include = true;
    let excluded = false;
    if (rel !== '') {
      include = includeMatcher ? includeMatcher.matches(rel) : true;
      if (excludeMatcher?.matches(rel)) {
        include = false;
        excluded = true;
      }
      // Nothing below can come back unless some pattern could re-include it.
      if (!include && !includeMatcher && !excludeMatcher?.hasExceptions) return;
    }
    const st = await this.source.lstat(srcInRoot);
    if (!st) return; // hidden by .dockerignore, or vanished
    if (!include && !st.isDirectory()) return;

    const targetSt = await lstatOrNull(dstHost);
    if (include) await this.createParentDirs(overwriteMeta);
    if (!st.isDirectory()) await this.ensureEmptyFileTarget(dstHost, targetSt);

    let copyInfo = include;
    let restoreTimes = false;
    const summary = this.options.summary;
    if (st.isDirectory()) {
      const created = await this.copyDirectory(srcInRoot, rel, dstHost, st, overwriteMeta, include, excluded);
      if (!overwriteMeta) {
        // The top-level destination directory keeps its own mode and owner.
        copyInfo = created;
        restoreTimes = !created;
      }
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const linkTo = st.nlink > 1 ? this.inodes.get(key) : undefined;
      if (linkTo) {
        await link(linkTo, dstHost);
        summary.hardlinks++;
      } else {
        if (st.nlink > 1) this.inodes.set(key, dstHost);
        // EXCL: the name was just removed; never write through whatever appears there.
        await copyFile(this.source.hostPath(srcInRoot), dstHost, constants.COPYFILE_EXCL);
        summary.files++;
        summary.bytes += st.size;
      }
    } else if (st.isSymbolicLink()) {
      await symlink(await readlink(this.source.hostPath(srcInRoot)), dstHost);
      summary.symlinks++;
    } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      const { major, minor } = devMajorMinor(st.rdev);
      const kind = st.isFIFO() ? 'p' : st.isCharacterDevice() ? 'c' : 'b';
      await makeNode(dstHost, kind, st.mode, major, minor);
      summary.specialFiles++;
    } else {
      return; // sockets cannot be recreated meaningfully
    }

    if (copyInfo) await this.copyFileInfo(st, dstHost);
    else if (restoreTimes && targetSt) await setTimes(dstHost, st.atime, st.mtime);
  }

  private async copyDirectory(
    srcInRoot: string,
    rel: string,
    dstHost: string,
    st: Stats,
    overwriteMeta: boolean,
    include: boolean,
    excluded: boolean,
  ): Promise<boolean> {
    const parent: ParentDir = { srcInRoot, dstHost, copied: false };
    let created = false;
    if (include) {
      created = await this.copyDirectoryOnly(dstHost, st, overwriteMeta);
      parent.copied = true;
    }
    if (excluded && !this.options.exclude?.hasExceptions) return false;
    const includeMatcher = this.options.include;
    if (!include && !excluded && includeMatcher && !includeMatcher.includeCouldMatchInside(rel)) return created;

    this.parentDirs.push(parent);
    try {
      for (const name of await this.source.readdir(srcInRoot)) {
        const childSrc = srcInRoot === '/' ? `/${name}` : `${srcInRoot}/${name}`;
        const childRel = rel === '' ? name : `${rel}/${name}`;
        await this.copyEntry(childSrc, childRel, path.join(dstHost, name), true);
      }
    } finally {
      this.parentDirs.pop();
    }
    return created;
  }

  /** Create (or check, and with overwriteMeta re-mode) one directory. Returns whether it was created. */
  private async copyDirectoryOnly(dstHost: string, st: Stats, overwriteMeta: boolean): Promise<boolean> {
    const existing = await lstatOrNull(dstHost);
    if (!existing) {
      await mkdir(dstHost, st.mode & 0o7777);
      this.options.summary.dirs++;
      return true;
    }
    if (!existing.isDirectory()) throw new CannotCopyError(`cannot copy to non-directory: ${this.inRoot(dstHost)}`);
    if (overwriteMeta) await chmod(dstHost, st.mode & 0o7777);
    return false;
  }

  /** Directories skipped by include patterns are made once something inside them is copied. */
  private async createParentDirs(overwriteMeta: boolean): Promise<void> {
    for (const parent of this.parentDirs) {
      if (parent.copied) continue;
      const st = await this.source.lstat(parent.srcInRoot);
      if (!st?.isDirectory()) throw new CannotCopyError(`${parent.srcInRoot} is not a directory`);
      if (await this.copyDirectoryOnly(parent.dstHost, st, overwriteMeta)) await this.copyFileInfo(st, parent.dstHost);
      parent.copied = true;
    }
  }

  private async ensureEmptyFileTarget(dstHost: string, targetSt: Stats | null): Promise<void> {
    if (!targetSt) return;
    if (targetSt.isDirectory()) throw new CannotCopyError(`cannot replace to directory ${this.inRoot(dstHost)} with file`);
    await unlink(dstHost);
  }

  private async copyFileInfo(st: Stats, dstHost: string): Promise<void> {
    const owner =
      this.options.owner ?? (this.source.forceRootOwnership ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
    // chown before chmod: chown clears set-id bits.
    await setOwner(dstHost, owner);
    if (!st.isSymbolicLink()) {
      const perm = st.mode & 0o7777;
      await chmod(dstHost, this.options.mode ? applyMode(this.options.mode, perm, st.isDirectory()) : perm);
    }
    await setTimes(dstHost, st.atime, st.mtime);
  }

  private inRoot(host: string): string {
    const rel = path.relative(this.options.destRoot, host);
    return `/${rel}`;
  }
}
