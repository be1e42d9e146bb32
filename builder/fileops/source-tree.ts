/**
 * Where COPY reads from: the build context (filtered by .dockerignore, owned
 * by root), another stage's or image's rootfs (`--from`, ownership kept), or
 * a scratch directory holding a heredoc or a downloaded file.
 */
import { lstat, readdir } from 'node:fs/promises';
import { lstatSync, type Stats } from 'node:fs';
import { hostPathOf, isNotExist, resolveInRoot, type Resolved } from './resolve.js';
import { sortByUtf8 } from '../../cache/layer-walk.js';
import type { FileStatKey } from '../../cache/checksum-cache.js';

export interface SourceTree {
  /** Host directory of the tree's root. */
  readonly root: string;
  /** Words for error messages: "build context", "source stage". */
  readonly description: string;
  /** Build-context files are sent as uid/gid 0; stage files keep their owner. */
  readonly forceRootOwnership: boolean;
  /** Whether `..` above the root is an error (context) or clamped (rootfs). */
  readonly refuseEscapingPaths: boolean;
  /** Resolve a path inside the tree, symlinks relative to the tree root. */
  resolve(p: string, followFinal: boolean): Promise<Resolved>;
  /** lstat of a resolved in-root path; null when absent or hidden. */
  lstat(inRoot: string): Promise<Stats | null>;
  /**
   * lstat of an entry that readdir() just listed (so not hidden), without
   * a promise: what a copier's loop over thousands of files calls. Null
   * when it is gone.
   */
  lstatListedSync?(inRoot: string): Stats | null;
  /**
   * The regular file at this in-root path as this build's content checksum
   * walk saw it (the stat its digest was taken by), if the walk went there.
   */
  walkedFile?(inRoot: string): WalkedFile | undefined;
  /** Visible entry names of a directory, sorted. */
  readdir(inRoot: string): Promise<string[]>;
  hostPath(inRoot: string): string;
}

/** A regular file's stat identity, permission bits, owner and link count, as a walk of its tree saw it. */
export interface WalkedFile extends FileStatKey {
  /** Permission and set-id/sticky bits (0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
}

/** A plain directory: a stage/image rootfs, or a scratch dir. */
export class DirectorySource implements SourceTree {
  readonly forceRootOwnership: boolean;
  readonly refuseEscapingPaths = false;
  readonly description: string;

  constructor(
    readonly root: string,
    options: { forceRootOwnership?: boolean; description?: string } = {},
  ) {
    this.forceRootOwnership = options.forceRootOwnership ?? false;
    this.description = options.description ?? 'source filesystem';
  }

  resolve(p: string, followFinal: boolean): Promise<Resolved> {
    return resolveInRoot(this.root, p, { followFinal });
  }

  async lstat(inRoot: string): Promise<Stats | null> {
    try {
      return await lstat(this.hostPath(inRoot));
    } catch (err) {
      if (isNotExist(err)) return null;
      throw err;
    }
  }

  lstatListedSync(inRoot: string): Stats | null {
    return lstatSync(this.hostPath(inRoot), { throwIfNoEntry: false }) ?? null;
  }

  async readdir(inRoot: string): Promise<string[]> {
    return sortNames(await readdir(this.hostPath(inRoot)));
  }

  hostPath(inRoot: string): string {
    return hostPathOf(this.root, inRoot);
  }
}

/** Byte-wise order, like Go's sort of directory entries. */
export function sortNames(names: string[]): string[] {
  return sortByUtf8(names, (n) => n);
}
