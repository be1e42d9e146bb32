/**
 * Resolve paths INSIDE a root directory (an image rootfs or the build
 * context), the way a chroot would: every component is lstat'ed, symlinks are
 * expanded relative to the root (an absolute target `/x` means `<root>/x`) and
 * `..` never climbs above the root. The host path returned therefore only
 * crosses real directories, so writing through it cannot leave the root —
 * the property buildah's copier is built on.
 */
import { lstatSync } from 'node:fs';
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import { SymlinkLoopError } from './errors.js';

/** Linux gives up after 40 links in one lookup; we follow its spirit. */
const MAX_SYMLINKS = 40;

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default true). */
  followFinal?: boolean;
  /**
   * Components to treat as absent even though they exist on disk (e.g. paths
   * excluded by .dockerignore, which are not part of the context).
   */
  isHidden?: (inRootPath: string) => boolean | Promise<boolean>;
  /**
   * What is at an in-root path, null for nothing: by default an lstat (and
   * readlink) under the root; a layered view without a mount
   * (snapshots/lower-lookup.ts) brings its own.
   */
  lookup?: (inRootPath: string) => Promise<Found | null>;
}

/** One component as the lookup found it. */
export interface Found {
  isLink: boolean;
  readlink(): Promise<string>;
}

function lstatLookup(root: string): (inRoot: string) => Promise<Found | null> {
  return async (inRoot) => {
    const host = hostPathOf(root, inRoot);
    try {
      // One lstat per component, synchronous: cheaper than the threadpool's round trip.
      const isLink = lstatSync(host).isSymbolicLink();
      return { isLink, readlink: () => readlink(host) };
    } catch (err) {
      if (!isNotExist(err)) throw err;
      return null;
    }
  };
}

export interface Resolved {
  /** Normalised absolute path inside the root: "/", "/usr/lib/x". */
  readonly inRoot: string;
  /** The same location on the host. */
  readonly host: string;
  /** Whether the resolved location exists (and is not hidden). */
  readonly exists: boolean;
  /** How many symlinks were expanded on the way. */
  readonly linksFollowed: number;
}

/** Host path for an already-normalised in-root path. */
export function hostPathOf(root: string, inRoot: string): string {
  return inRoot === '/' ? root : path.join(root, inRoot);
}

export async function resolveInRoot(root: string, p: string, options: ResolveOptions = {}): Promise<Resolved> {
  const followFinal = options.followFinal ?? true;
  const lookup = options.lookup ?? lstatLookup(root);
  // A stack of components still to walk; the next one is at the end.
  const pending = splitReversed(p);
  const done: string[] = [];
  let linksFollowed = 0;
  let missing = false;

  while (pending.length > 0) {
    const comp = pending.pop()!;
    if (comp === '.' || comp === '') continue;
    if (comp === '..') {
      done.pop();
      continue;
    }
    done.push(comp);
    // Once something is missing, the rest is plain lexical joining (like
    // continuity's fs.RootPath): nothing below can be a symlink.
    if (missing) continue;
    const inRoot = `/${done.join('/')}`;
    if (options.isHidden && (await options.isHidden(inRoot))) {
      missing = true;
      continue;
    }
    const found = await lookup(inRoot);
    if (!found) {
      missing = true;
      continue;
    }
    if (!found.isLink) continue;
    const isFinal = pending.every((c) => c === '' || c === '.');
    if (isFinal && !followFinal) continue;
    if (++linksFollowed > MAX_SYMLINKS) throw new SymlinkLoopError(p);
    const target = await found.readlink();
    done.pop();
    if (target.startsWith('/')) done.length = 0;
    pending.push(...splitReversed(target));
  }

  const inRoot = `/${done.join('/')}`;
  return { inRoot, host: hostPathOf(root, inRoot), exists: !missing, linksFollowed };
}

function splitReversed(p: string): string[] {
  return p.split('/').reverse();
}

export function isNotExist(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Lexically normalise a path inside a root ("a/../b" → "/b"); `..` above the
 * root stays at the root.
 */
export function cleanInRoot(p: string): string {
  return path.posix.resolve('/', p);
}
