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
 *
 * Speed: every fs call is a round trip through the libuv threadpool, so
 * copying one file after the other left the threadpool (and the second core)
 * idle most of the time. Entries are therefore copied CONCURRENTLY, a bounded
 * number at a time; a directory's own metadata is still set only once all of
 * its children are done, and the first failure stops the rest. Per file we
 * also skip the calls whose outcome is already known: the lstat of a target
 * inside a directory we just created (it cannot exist), the chmod after
 * copyFile (which already gives the source's mode) and the lchown when files
 * created in that directory already get the wanted owner (learnt from the
 * first one, one lstat per directory).
 */
import { chmod, copyFile, link, lstat, mkdir, readlink, symlink, unlink } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import path from 'node:path';
import type { PatternMatcher } from '../patterns/pattern-matcher.js';
import type { Owner } from './chown.js';
import { CannotCopyError } from './errors.js';
import { canChangeOwner, devMajorMinor, lstatOrNull, makeNode, setOwner, setTimes } from './fs-write.js';
import { Limiter } from '../concurrency.js';
import { type FileReuse, forgetLinked, linkUnchangedFile } from './file-reuse.js';
import { linkListedFile } from './link-listed.js';
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
  /** Entries copied at once (default COPY_CONCURRENCY). */
  readonly concurrency?: number;
  /** The previous run's snapshot of this step, whose unchanged files are linked instead of copied. */
  readonly reuse?: FileReuse;
}

/**
 * Entries in flight at once. The threadpool has 4 threads: a few times that
 * keeps them busy while the main thread runs the continuations; more only
 * holds more files open. (5,000 files of 8 KiB into an overlay, 2 cores:
 * 1 (serial) 2.1 s, 4 1.3 s, 8-64 1.0-1.2 s.)
 */
export const COPY_CONCURRENCY = 16;

/** Files a directory's loop links (see canLinkInLoop) between two turns of the event loop. */
const LINKS_PER_TURN = 500;

/** A source directory whose children are being copied. */
interface DirNode {
  readonly srcInRoot: string;
  readonly dstHost: string;
  /** The enclosing directory being copied, null at the top. */
  readonly up: DirNode | null;
  /** Exists at the destination; include patterns may leave it to the first included child. */
  copied: boolean;
  /** The lazy creation in progress (children of one directory race for it). */
  creating?: Promise<void>;
  /** Created by this copier just now: none of its children can exist at the destination yet. */
  readonly fresh: boolean;
  /** Owner that files created in this directory get (learnt from the first one). */
  createdOwner?: Promise<Owner>;
}

/** A source directory as copyEntry found it. */
interface FoundDirectory {
  st: Stats;
  /** What is at the destination already, if anything. */
  targetSt: Stats | null;
  /** Selected by the patterns (else only walked for what they may select inside). */
  include: boolean;
  /** Excluded by --exclude (a pattern with exceptions may still select inside). */
  excluded: boolean;
}

/** One entry of the tree being copied. */
interface EntryToCopy {
  srcInRoot: string;
  /** Its path relative to the copied source ('' for the source itself): what patterns match. */
  rel: string;
  dstHost: string;
  overwriteMeta: boolean;
  /** The directory being copied that holds this entry (null at the top). */
  dir: DirNode | null;
  /** Gives back the entry's slot; a directory does so before its children take slots of their own, so nesting cannot deadlock. */
  release: () => void;
  /** Its lstat, when the directory's loop already took it. */
  st?: Stats;
}

/** One copy() call: its slots and its first failure. */
interface Run {
  readonly slots: Limiter;
  failed: boolean;
  error: unknown;
  /** The top destination is a directory created just now by the caller. */
  readonly freshDest: boolean;
}

export class TreeCopier {
  /** Source inode → destination path (once written), to recreate hard links. */
  private readonly inodes = new Map<string, Promise<string>>();

  constructor(
    private readonly source: SourceTree,
    private readonly options: TreeCopyOptions,
  ) {}

  /**
   * Copy the resolved source `srcInRoot` to `dstHost` (whose parent exists).
   * freshDest: dstHost is a directory the caller created just now (empty).
   */
  copy(srcInRoot: string, dstHost: string, opts: { freshDest?: boolean } = {}): Promise<void> {
    const run: Run = { slots: new Limiter(this.options.concurrency ?? COPY_CONCURRENCY), failed: false, error: undefined, freshDest: opts.freshDest ?? false };
    return this.copyEntry({ srcInRoot, rel: '', dstHost, overwriteMeta: false, dir: null, release: () => {} }, run);
  }

  private async copyEntry(entry: EntryToCopy, run: Run): Promise<void> {
    const { srcInRoot, rel, dstHost, overwriteMeta, dir, release } = entry;
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
    const st = entry.st ?? await this.source.lstat(srcInRoot);
    if (!st) return; // hidden by .dockerignore, or vanished
    if (!include && !st.isDirectory()) return;

    const targetSt = dir?.fresh ? null : await lstatOrNull(dstHost);
    if (include) await this.createParentDirs(dir, overwriteMeta);
    if (!st.isDirectory()) await this.ensureEmptyFileTarget(dstHost, targetSt);

    let copyInfo = include;
    let restoreTimes = false;
    // Set for a file that copyFile just created (mode already the source's).
    let createdIn: DirNode | null = null;
    const summary = this.options.summary;
    if (st.isDirectory()) {
      const created = await this.copyDirectory(entry, { st, targetSt, include, excluded }, run);
      if (!overwriteMeta) {
        // The top-level destination directory keeps its own mode and owner.
        copyInfo = created;
        restoreTimes = !created;
      }
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.inodes.get(key) : undefined;
      if (first) {
        await link(await first, dstHost);
        summary.hardlinks++;
      } else if (st.nlink === 1 && dir?.fresh && await this.linkUnchanged(srcInRoot, st, dstHost)) {
        // Linked from the previous snapshot with the metadata a copy would set: nothing more to do.
        summary.files++;
        summary.bytes += st.size;
        return;
      } else {
        // EXCL: the name was just removed (or never existed); never write through whatever appears there.
        const copied = copyFile(this.source.hostPath(srcInRoot), dstHost, constants.COPYFILE_EXCL);
        if (st.nlink > 1) {
          const written = copied.then(() => dstHost);
          written.catch(() => {}); // the failure is reported by this entry
          this.inodes.set(key, written);
        } else {
          // Hard-linked files are left out: a link copied concurrently
          // could change the inode's owner before it is learnt.
          createdIn = dir;
        }
        await copied;
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

    if (copyInfo) await (createdIn ? this.copyCreatedFileInfo(st, dstHost, createdIn) : this.copyFileInfo(st, dstHost));
    else if (restoreTimes && targetSt) await setTimes(dstHost, st.atime, st.mtime);
  }

  // Whether a fresh directory's loop may link unchanged files itself
  // (link-listed.ts): only where copyEntry would do the very same, with no
  // patterns to apply and no --chmod.
  private canLinkInLoop(): boolean {
    const { reuse, mode, include, exclude } = this.options;
    return reuse !== undefined && !mode && !include && !exclude && canChangeOwner && this.source.lstatListedSync !== undefined;
  }

  /** Whether the previous snapshot's identical file could be linked in place of a copy. */
  private async linkUnchanged(srcInRoot: string, st: Stats, dstHost: string): Promise<boolean> {
    const { reuse, mode } = this.options;
    const perm = st.mode & 0o7777;
    // Set-id bits and --chmod take calls after the copy; keep those cases simple.
    if (!reuse || mode || !canChangeOwner || (perm & 0o6000) !== 0) return false;
    return linkUnchangedFile(reuse, this.source.hostPath(srcInRoot), st, dstHost, this.ownerFor(st), perm);
  }

  private async copyDirectory(entry: EntryToCopy, found: FoundDirectory, run: Run): Promise<boolean> {
    const { srcInRoot, rel, dstHost, overwriteMeta, dir, release } = entry;
    const { st, targetSt, include, excluded } = found;
    const created = include ? await this.copyDirectoryOnly(dstHost, st, overwriteMeta, targetSt) : false;
    release();
    if (excluded && !this.options.exclude?.hasExceptions) return false;
    const includeMatcher = this.options.include;
    if (!include && !excluded && includeMatcher && !includeMatcher.includeCouldMatchInside(rel)) return created;

    const node: DirNode = { srcInRoot, dstHost, up: dir, copied: include, fresh: created || (dir === null && run.freshDest) };
    const tasks: Promise<void>[] = [];
    const linkInLoop = node.fresh && node.copied && this.canLinkInLoop();
    const ownerFor = (st: Owner) => this.ownerFor(st);
    let linkedInLoop = 0;
    for (const name of await this.source.readdir(srcInRoot)) {
      if (run.failed) break;
      const childSrc = srcInRoot === '/' ? `/${name}` : `${srcInRoot}/${name}`;
      // A plain concatenation: dstHost is already normal and name is one
      // component from readdir (path.join would re-normalise every path).
      const childDst = dstHost.endsWith('/') ? dstHost + name : `${dstHost}/${name}`;
      let childSt: Stats | undefined;
      if (linkInLoop) {
        const found = linkListedFile(this.options.reuse!, this.source, childSrc, childDst, ownerFor, this.options.summary);
        if (found === true) {
          // A big directory still lets the event loop run now and then.
          if (++linkedInLoop % LINKS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        childSt = found;
      }
      const releaseChild = await run.slots.acquire();
      if (run.failed) {
        releaseChild();
        break;
      }
      const childRel = rel === '' ? name : `${rel}/${name}`;
      tasks.push(this.copyEntry({ srcInRoot: childSrc, rel: childRel, dstHost: childDst, overwriteMeta: true, dir: node, release: releaseChild, st: childSt }, run)
        .catch((err: unknown) => {
          if (!run.failed) {
            run.failed = true;
            run.error = err;
          }
        })
        .finally(releaseChild));
    }
    // Every child settles before we return: nothing writes after a failure is reported.
    await Promise.all(tasks);
    if (run.failed) throw run.error;
    return created;
  }

  /**
   * Create (or check, and with overwriteMeta re-mode) one directory.
   * `existing` is its lstat (null: absent). Returns whether it was created.
   */
  private async copyDirectoryOnly(dstHost: string, st: Stats, overwriteMeta: boolean, existing: Stats | null): Promise<boolean> {
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
  private async createParentDirs(dir: DirNode | null, overwriteMeta: boolean): Promise<void> {
    const missing: DirNode[] = [];
    for (let d = dir; d; d = d.up) if (!d.copied) missing.push(d);
    // Outermost first; concurrent children wait for the same creation.
    for (const d of missing.reverse()) {
      d.creating ??= this.createLazyDir(d, overwriteMeta);
      await d.creating;
    }
  }

  private async createLazyDir(d: DirNode, overwriteMeta: boolean): Promise<void> {
    const st = await this.source.lstat(d.srcInRoot);
    if (!st?.isDirectory()) throw new CannotCopyError(`${d.srcInRoot} is not a directory`);
    if (await this.copyDirectoryOnly(d.dstHost, st, overwriteMeta, await lstatOrNull(d.dstHost))) await this.copyFileInfo(st, d.dstHost);
    d.copied = true;
  }

  private async ensureEmptyFileTarget(dstHost: string, targetSt: Stats | null): Promise<void> {
    if (!targetSt) return;
    if (targetSt.isDirectory()) throw new CannotCopyError(`cannot replace to directory ${this.inRoot(dstHost)} with file`);
    // A file linked from the previous snapshot that goes is linked no more.
    forgetLinked(this.options.reuse, dstHost);
    await unlink(dstHost);
  }

  private ownerFor(st: Owner): Owner {
    return this.options.owner ?? (this.source.forceRootOwnership ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });
  }

  private async copyFileInfo(st: Stats, dstHost: string): Promise<void> {
    // chown before chmod: chown clears set-id bits.
    await setOwner(dstHost, this.ownerFor(st));
    if (!st.isSymbolicLink()) {
      const perm = st.mode & 0o7777;
      await chmod(dstHost, this.options.mode ? applyMode(this.options.mode, perm, st.isDirectory()) : perm);
    }
    await setTimes(dstHost, st.atime, st.mtime);
  }

  /**
   * copyFileInfo for a regular file copyFile just created in `dir`: libuv
   * gave it the source's permission bits (fchmod, umask aside), so chmod is
   * only needed for --chmod or to restore set-id bits a chown (or, without
   * root, the data write) cleared; and
   * chown only when files created in `dir` do not already get the owner.
   */
  private async copyCreatedFileInfo(st: Stats, dstHost: string, dir: DirNode): Promise<void> {
    const owner = this.ownerFor(st);
    let chowned = false;
    if (canChangeOwner) {
      dir.createdOwner ??= lstat(dstHost).then((s) => ({ uid: s.uid, gid: s.gid }));
      const created = await dir.createdOwner;
      if (created.uid !== owner.uid || created.gid !== owner.gid) {
        await setOwner(dstHost, owner);
        chowned = true;
      }
    }
    const perm = st.mode & 0o7777;
    const want = this.options.mode ? applyMode(this.options.mode, perm, false) : perm;
    // Without CAP_FSETID the kernel also clears set-id bits when the data is written after libuv's fchmod.
    if (want !== perm || ((chowned || !canChangeOwner) && (perm & 0o6000) !== 0)) await chmod(dstHost, want);
    await setTimes(dstHost, st.atime, st.mtime);
  }

  private inRoot(host: string): string {
    const rel = path.relative(this.options.destRoot, host);
    return `/${rel}`;
  }
}
