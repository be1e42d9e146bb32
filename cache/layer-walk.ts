import { constants as fsc, lstatSync, readdirSync } from 'node:fs';
import type { Stats } from 'node:fs';

/**
 * What a layer needs of an entry's lstat. A walk keeps one per entry until
 * the layer is written, and a Stats holds four Dates and fourteen numbers
 * besides: at 50,000 files that was 40 MB of the build's peak memory.
 */
/** The fields of an lstat an EntryStat keeps (a Stats has them all). */
export type EntryStatFields = Pick<Stats, 'mode' | 'uid' | 'gid' | 'size' | 'mtimeMs' | 'rdev' | 'dev' | 'ino'>;

export class EntryStat {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly rdev: number;
  /** Exact below 2^53 (Number.isSafeInteger tells). */
  readonly dev: number;
  readonly ino: number;

  constructor(st: EntryStatFields) {
    this.mode = st.mode;
    this.uid = st.uid;
    this.gid = st.gid;
    this.size = st.size;
    this.mtimeMs = st.mtimeMs;
    this.rdev = st.rdev;
    this.dev = st.dev;
    this.ino = st.ino;
  }

  private is(type: number): boolean {
    return (this.mode & fsc.S_IFMT) === type;
  }

  isFile(): boolean { return this.is(fsc.S_IFREG); }
  isDirectory(): boolean { return this.is(fsc.S_IFDIR); }
  isSymbolicLink(): boolean { return this.is(fsc.S_IFLNK); }
  isCharacterDevice(): boolean { return this.is(fsc.S_IFCHR); }
  isBlockDevice(): boolean { return this.is(fsc.S_IFBLK); }
  isFIFO(): boolean { return this.is(fsc.S_IFIFO); }
  isSocket(): boolean { return this.is(fsc.S_IFSOCK); }
}

export interface TreeEntry {
  /** Path relative to the walked root, '/'-separated, never ''. */
  rel: string;
  st: EntryStat;
  /** Exact `dev:ino` for entries with more than one link (hard-link detection). */
  inode?: string;
}

/**
 * Every entry under root (root itself excluded), symlinks not followed,
 * in no particular order: callers sort as they need.
 *
 * `known(rel)` may give the entry of a regular file whose lstat the caller
 * already knows for certain (a file a re-run COPY hard-linked from its
 * previous snapshot: that inode's metadata is in the previous layer's
 * index); such a file is not lstat'ed again. It is asked only about names
 * the directory lists as regular files.
 *
 * The walk uses synchronous calls: it is nothing but tiny syscalls, and an
 * async call's threadpool round trip costs several times the syscall. It
 * yields to the event loop after each directory so other work keeps going.
 */
export async function walkTree(root: string, known?: (rel: string) => TreeEntry | undefined): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const dirs = [''];
  // rel is clean ('/'-joined readdir names): concatenation, not path.join's normalising.
  const base = root.endsWith('/') ? root : root + '/';
  while (dirs.length > 0) {
    const relDir = dirs.pop()!;
    const entries = readdirSync(relDir === '' ? root : base + relDir, { withFileTypes: true });
    for (const dirent of entries) {
      const name = dirent.name;
      const rel = relDir === '' ? name : relDir + '/' + name;
      const given = known && dirent.isFile() ? known(rel) : undefined;
      if (given) {
        out.push(given);
        continue;
      }
      const abs = base + rel;
      const st = lstatSync(abs);
      let inode: string | undefined;
      if (!st.isDirectory() && st.nlink > 1) {
        // Number inodes lose precision above 2^53 (possible on XFS/btrfs);
        // a false match would corrupt the layer, so the exact value is asked
        // for then. Below that the numbers are exact: no second lstat (a
        // re-run COPY links thousands of files, each with two links).
        if (Number.isSafeInteger(st.ino) && Number.isSafeInteger(st.dev)) {
          inode = `${st.dev}:${st.ino}`;
        } else {
          const big = lstatSync(abs, { bigint: true });
          inode = `${big.dev}:${big.ino}`;
        }
      }
      out.push({ rel, st: new EntryStat(st), inode });
      if (st.isDirectory()) dirs.push(rel);
    }
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/** Compares by the UTF-8 bytes of the keys, the order layer entries use. */
export function byteOrder(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Sorts `items` in place by the UTF-8 bytes of their keys (Go's order of
 * directory entries and of layer paths). Without surrogates (characters
 * above U+FFFF) UTF-16 code unit order is that order, so plain string
 * comparison gives it with no Buffer per key (a Buffer and a native compare
 * per comparison cost more than the rest of the sort for thousands).
 */
export function sortByUtf8<T>(items: T[], key: (item: T) => string): T[] {
  if (!items.some((i) => SURROGATE.test(key(i)))) {
    return items.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }
  const bytes = new Map(items.map((i) => [i, Buffer.from(key(i))]));
  return items.sort((a, b) => byteOrder(bytes.get(a)!, bytes.get(b)!));
}

/** glibc's major()/minor() split of a dev_t. */
export function splitDev(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return {
    major: ((lo >>> 8) & 0xfff) | (hi & 0xfffff000),
    minor: ((lo & 0xff) | ((lo >>> 12) & 0xfff00) | ((hi & 0xfff) << 20)) >>> 0,
  };
}
