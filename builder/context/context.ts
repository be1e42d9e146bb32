/**
 * The build context: a host directory seen through its ignore rules. What
 * .dockerignore excludes does not exist here at all (as in BuildKit, where
 * only the remaining files are sent), and nothing outside the directory is
 * reachable: symlinks are resolved as if the context were `/`.
 */
import { readdir, readlink } from 'node:fs/promises';
import { createReadStream, lstatSync, statSync, type ReadStream, type Stats } from 'node:fs';
import path from 'node:path';
import { hostPathOf, isNotExist, resolveInRoot, type Resolved } from '../fileops/resolve.js';
import { sortNames, type SourceTree, type WalkedFile } from '../fileops/source-tree.js';
import { loadIgnoreFile } from '../patterns/dockerignore.js';
import { ContextNotFoundError } from './errors.js';
import { PatternMatcher } from '../patterns/pattern-matcher.js';
import { SourceNotFoundError } from '../fileops/errors.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface ContextEntry {
  /** Relative to the context root, `/`-separated, e.g. "src/main.ts". */
  readonly path: string;
  readonly type: EntryType;
  /** Permission and set-id/sticky bits (0o7777). */
  readonly mode: number;
  readonly size: number;
  /** Always 0: context files are sent as root (BuildKit resets them). */
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
  readonly linkTarget?: string;
  /** Host identity, for stat-based caches. */
  readonly dev: number;
  readonly ino: number;
  readonly ctimeMs: number;
}

/** An entry a checksum walk saw (builder/context/checksum.ts). */
export interface WalkedEntry extends WalkedFile {
  /** In-root path ('/src/a.txt'). */
  readonly inRoot: string;
  readonly type: EntryType;
}

/** An entry of a walk of the whole context, as its checksum read it. */
export interface ContextWalkEntry extends WalkedEntry {
  /** A symlink's target, '' for anything else. */
  readonly link: string;
  /** `sha256:<hex>` of a file, once the checksum needed it ('' while unknown, and for other types). */
  readonly digest: string;
}

export interface OpenContextOptions {
  /** Host path of the Dockerfile: its `<Dockerfile>.dockerignore` wins over `.dockerignore`. */
  readonly dockerfilePath?: string;
  /** Use these patterns instead of reading an ignore file. */
  readonly ignorePatterns?: readonly string[];
  /** Told each checksum walk, in walk order; `whole`: it covered the whole context (a COPY of `.`), the root first. */
  readonly onWalk?: (entries: readonly ContextWalkEntry[], whole: boolean) => void;
}

export function entryType(st: Pick<Stats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO'>): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

const VISIBLE = Promise.resolve(true);

export class BuildContext implements SourceTree {
  readonly description = 'build context';
  readonly forceRootOwnership = true;
  readonly refuseEscapingPaths = true;
  private readonly visibility = new Map<string, Promise<boolean>>();
  private readonly cleanDirs = new Map<string, boolean>();
  // What this build's checksum walks saw (noteWalked), and by path once asked.
  private readonly walks: (readonly WalkedEntry[])[] = [];
  private walkedFiles: Map<string, WalkedFile> | undefined;

  private constructor(
    /** Absolute host path of the context directory. */
    readonly root: string,
    readonly ignore: PatternMatcher,
    /** The ignore file that was read, or null. */
    readonly ignoreFile: string | null,
    private readonly onWalk?: (entries: readonly ContextWalkEntry[], whole: boolean) => void,
  ) {}

  static async open(dir: string, options: OpenContextOptions = {}): Promise<BuildContext> {
    const root = path.resolve(dir);
    if (!isDirectory(root)) throw new ContextNotFoundError(dir);
    if (options.ignorePatterns) return new BuildContext(root, new PatternMatcher(options.ignorePatterns), null, options.onWalk);
    const ignore = await loadIgnoreFile(root, options.dockerfilePath);
    return new BuildContext(root, new PatternMatcher(ignore.patterns), ignore.file, options.onWalk);
  }

  /** Is this relative path matched by the ignore rules (ignoring whether it exists)? */
  isIgnored(relPath: string): boolean {
    return relPath !== '' && this.ignore.matches(relPath);
  }

  /**
   * Is this in-root path part of the context? Excluded directories are still
   * present when something inside them is re-included by an exception.
   */
  isVisible(inRoot: string): Promise<boolean> {
    return this.visibilityOf(toRel(inRoot), false);
  }

  // `listed`: the name was just returned by readdir, so it exists; unless
  // an ignore rule matches it, no lstat is needed to decide (COPY of a big
  // context made two lstats per file before).
  private visibilityOf(rel: string, listed: boolean): Promise<boolean> {
    if (rel === '') return Promise.resolve(true);
    // Nothing to decide and nothing worth remembering: a big context would
    // otherwise keep a promise and a path per file until the build ends.
    if (listed && this.ignore.isEmpty) return VISIBLE;
    let cached = this.visibility.get(rel);
    if (!cached) {
      // A listed name in a clean directory is visible exactly when no
      // pattern matches it (the checksum walk's rule): one match instead of
      // one per ancestor, and no promise made per file.
      cached = listed && this.isCleanDir(parentOf(rel)) && !this.ignore.matches(rel) ? VISIBLE : this.computeVisible(rel, listed);
      this.visibility.set(rel, cached);
    }
    return cached;
  }

  // Whether no ignore pattern matches this directory nor any above it
  // (then nothing decides about its entries but their own match).
  // Remembered per directory: its entries all ask.
  private isCleanDir(relDir: string): boolean {
    if (relDir === '') return true;
    let clean = this.cleanDirs.get(relDir);
    if (clean === undefined) {
      clean = this.isCleanDir(parentOf(relDir)) && !this.ignore.matches(relDir);
      this.cleanDirs.set(relDir, clean);
    }
    return clean;
  }

  private async computeVisible(rel: string, listed: boolean): Promise<boolean> {
    if (this.ignore.isEmpty && listed) return true;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      if (this.ignore.matches(ancestor) && !this.ignore.exceptionCouldMatchInside(ancestor)) return false;
    }
    const ignored = this.ignore.matches(rel);
    if (listed && !ignored) return true;
    const st = await this.rawLstat(rel);
    if (!st) return false;
    if (!ignored) return true;
    if (!st.isDirectory() || !this.ignore.exceptionCouldMatchInside(rel)) return false;
    for (const name of await readdir(hostPathOf(this.root, `/${rel}`))) {
      if (await this.visibilityOf(`${rel}/${name}`, true)) return true;
    }
    return false;
  }

  // Synchronous: an lstat is a few µs of kernel work, a quarter of what the
  // threadpool round trip of an async one costs, and COPY of a big context
  // makes one per file (a one-file rebuild of 5,000 files spent ~100 ms of
  // CPU in those round trips).
  private async rawLstat(rel: string): Promise<Stats | null> {
    try {
      return lstatSync(this.hostPathOfRel(rel)) ?? null;
    } catch (err) {
      if (isNotExist(err)) return null;
      throw err;
    }
  }

  resolve(p: string, followFinal: boolean): Promise<Resolved> {
    return resolveInRoot(this.root, p, { followFinal, isHidden: async (inRoot) => !(await this.isVisible(inRoot)) });
  }

  async lstat(inRoot: string): Promise<Stats | null> {
    // Without ignore rules whatever exists is visible: the lstat alone decides.
    if (!this.ignore.isEmpty && !(await this.isVisible(inRoot))) return null;
    return this.rawLstat(toRel(inRoot));
  }

  /**
   * Told the entries a checksum walk of this context saw, so that a COPY
   * that runs later in the build links an unchanged file by the stat its
   * digest came from, without an lstat of its own (walkedFile).
   */
  noteWalked(entries: readonly ContextWalkEntry[], whole: boolean): void {
    this.walks.push(entries);
    this.walkedFiles = undefined;
    this.onWalk?.(entries, whole);
  }

  walkedFile(inRoot: string): WalkedFile | undefined {
    if (this.walks.length === 0) return undefined;
    // Made on the first question: a build whose COPYs are all cached never asks.
    if (!this.walkedFiles) {
      this.walkedFiles = new Map();
      for (const walk of this.walks) for (const e of walk) if (e.type === 'file') this.walkedFiles.set(e.inRoot, e);
    }
    return this.walkedFiles.get(inRoot);
  }

  // Its readdir() leaves hidden names out: a listed entry needs no visibility check.
  lstatListedSync(inRoot: string): Stats | null {
    return lstatSync(this.hostPath(inRoot), { throwIfNoEntry: false }) ?? null;
  }

  async readdir(inRoot: string): Promise<string[]> {
    const names = sortNames(await readdir(this.hostPath(inRoot)));
    const prefix = toRel(inRoot) === '' ? '' : `${toRel(inRoot)}/`;
    const visible: string[] = [];
    for (const name of names) if (await this.visibilityOf(prefix + name, true)) visible.push(name);
    return visible;
  }

  hostPath(inRoot: string): string {
    return NORMAL_IN_ROOT.test(inRoot) ? this.hostPathOfRel(inRoot.slice(1)) : hostPathOf(this.root, inRoot);
  }

  // rel is normal (toRel's, or names joined): appended to the (resolved)
  // root without path.join's normalising, which a big COPY paid per file.
  private hostPathOfRel(rel: string): string {
    if (rel === '') return this.root;
    return this.root === '/' ? `/${rel}` : `${this.root}/${rel}`;
  }

  /** Metadata of one path (not following a final symlink), or null when absent or ignored. */
  async stat(relPath: string): Promise<ContextEntry | null> {
    const inRoot = toInRoot(relPath);
    const st = await this.lstat(inRoot);
    return st ? this.entry(toRel(inRoot), st) : null;
  }

  /**
   * All entries below `from` (default the whole context), depth first, names
   * in byte order, a directory before its contents; ignore rules applied.
   */
  async list(from = '.'): Promise<ContextEntry[]> {
    const start = toInRoot(from);
    const st = await this.lstat(start);
    if (!st) throw new SourceNotFoundError(from, this.description);
    const out: ContextEntry[] = [];
    if (st.isDirectory()) await this.walk(start, out);
    else out.push(await this.entry(toRel(start), st));
    return out;
  }

  private async walk(dirInRoot: string, out: ContextEntry[]): Promise<void> {
    for (const name of await this.readdir(dirInRoot)) {
      const child = dirInRoot === '/' ? `/${name}` : `${dirInRoot}/${name}`;
      const st = await this.rawLstat(toRel(child));
      if (!st) continue;
      out.push(await this.entry(toRel(child), st));
      if (st.isDirectory()) await this.walk(child, out);
    }
  }

  /**
   * Open a file of the context for reading. Symlinks are followed inside the
   * context; the result must be a visible regular file.
   */
  async open(relPath: string): Promise<ReadStream> {
    const resolved = await this.resolve(toInRoot(relPath), true);
    const st = resolved.exists ? await this.lstat(resolved.inRoot) : null;
    if (!st?.isFile()) throw new SourceNotFoundError(relPath, this.description, resolved.linksFollowed ? resolved.inRoot : undefined);
    return createReadStream(resolved.host);
  }

  private async entry(rel: string, st: Stats): Promise<ContextEntry> {
    const base = {
      path: rel,
      type: entryType(st),
      mode: st.mode & 0o7777,
      size: st.isFile() ? st.size : 0,
      uid: 0,
      gid: 0,
      mtimeMs: st.mtimeMs,
      dev: st.dev,
      ino: st.ino,
      ctimeMs: st.ctimeMs,
    };
    return st.isSymbolicLink() ? { ...base, linkTarget: await readlink(hostPathOf(this.root, `/${rel}`)) } : base;
  }
}

/** "a/b/c" → "a/b"; "a" → "". */
function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

// An absolute path with no empty, '.' or '..' component and no trailing
// slash: path.posix.resolve would give it back unchanged.
const NORMAL_IN_ROOT = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

function toRel(inRoot: string): string {
  if (NORMAL_IN_ROOT.test(inRoot)) return inRoot.slice(1);
  return path.posix.resolve('/', inRoot).slice(1);
}

function toInRoot(relPath: string): string {
  return path.posix.resolve('/', relPath);
}

// Synchronous: one stat, where a threadpool round trip costs more (each build opens its context, the memo's recording twice more).
function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
