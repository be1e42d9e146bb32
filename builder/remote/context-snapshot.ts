// What the client saw of a context directory at its last remote build, in
// walk order: each entry's name, stat identity (mode, size, mtime, ctime,
// inode, device), content digest and link target, and the digest of the
// whole manifest; and the stat identity of what the walk looked at besides
// its entries: the context directory itself (whose listing it read) and
// the ignore files it could have read.
//
// A rebuild first asks unchangedOnDisk(): one lstat per remembered entry,
// no readdir, no ignore rule, nothing hashed. That is exact: the walk's
// result depends only on the listings of the directories it read (the
// root and every directory entry), on the lstat of each entry it kept and
// on the ignore file. A listing that changed (an entry added, removed or
// renamed) changed its directory's mtime and ctime, an edited entry its
// own, a new or edited ignore file its stat; so when all of those are as
// remembered, the walk would list the same entries with the same stats,
// and the manifest and its digest are the remembered ones. Otherwise the
// walk runs (context-manifest.ts) and compares each lstat with the row at
// the same position: a changed row costs its file's hash only.
//
// Racily clean entries (see cache/checksum-cache.ts): a row whose mtime or
// ctime is not safely older than the walk's start (by the checksum cache's
// margin for its file system's timestamps) is marked racy: it never
// matches, so the next walk hashes that file again, and neither it nor a
// racy directory or ignore file lets the next build skip the walk. The
// rows stay exact, so they are also the manifest the server was last
// sent, which the next changed build describes as a delta.
//
// One file per context directory (and Dockerfile, whose ignore file may
// differ) under the client's cache directory, laid out for reading fast
// (5,000 rows in a fraction of a millisecond, not a JSON parse of the
// whole list) and for the native check (native/stat-check.c), which reads
// the same bytes:
//   0   "TSBSNAP3"
//   8   u32 LE: header bytes, rows, names bytes, around count, around bytes, flags
//   32  (zeros to 40)
//   40  header: JSON (digest, racy rows, link targets, file count)
//       around paths, NUL-separated (the context directory first)
//       row names, NUL-separated
//       zeros to a multiple of 8
//       around numbers, then row numbers: 6 float64 each, in this machine's byte order
//       row digests: 64 hex digits each ('-' for entries that are not files)
import { sha256Hex } from '../../cache/sha256-text.js';
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { untrustedUntil } from '../../cache/checksum-cache.js';
import { writeTextAtomicallySync } from '../../cache/write-atomic.js';

const MAGIC = 'TSBSNAP3';
const FIXED = 40;
/** Numbers per row: st.mode (type and permission bits), size, mtimeMs, ctimeMs, ino, dev. */
const NUMS = 6;
const HEX = 64;
const NO_DIGEST = '-'.repeat(HEX);
const DIGEST_PREFIX = 'sha256:'.length;
/** Every stat can be trusted: no racy row or around entry, and a digest. */
const FLAG_CHECKABLE = 1;
const FLAG_BIG_ENDIAN = 2;
const BIG_ENDIAN = os.endianness() === 'BE';

interface Header {
  root: string;
  /** manifestDigest() of the rows. */
  digest: string;
  /** Rows that are regular files (the count the progress line shows). */
  files: number;
  /** Rows that must not match (racily clean). */
  racy: number[];
  /** Link targets by row number. */
  links: Record<string, string>;
}

interface SnapshotData extends Header {
  checkable: boolean;
  rows: number;
  /** Decoded on first use: a context found unchanged by the native check never needs them. */
  readonly names: string[];
  nums: Float64Array;
  /** The context directory and the candidate ignore files. */
  aroundPaths: string[];
  aroundNums: Float64Array;
  /** 64 hex digits per row; decoded on first use. */
  readonly digests: string;
}

/** A path the walk reads besides its entries, with the 6 numbers of its stat (all 0: absent). */
export type AroundStat = [string, number, number, number, number, number, number];

/** One entry as walked: its name, stat identity, and what was derived from it. */
export interface SnapshotRow {
  name: string;
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
  /** `sha256:<hex>` for files. */
  digest?: string;
  link?: string;
}

export function rowOf(name: string, st: Stats): SnapshotRow {
  return { name, mode: st.mode, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** The stat of what the walk reads besides its entries, taken before it reads them (following symlinks, as reading does). */
export function statAround(paths: readonly string[]): AroundStat[] {
  return paths.map((p) => {
    let st: Stats | undefined;
    try {
      st = statIfExists(p);
    } catch {
      // Unreadable (EACCES, ELOOP): numbers that never match, so the shortcut is never taken.
      return [p, NaN, NaN, NaN, NaN, NaN, NaN];
    }
    return st ? [p, st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev] : [p, 0, 0, 0, 0, 0, 0];
  });
}

/** stat(), undefined when nothing is there (ENOENT, or ENOTDIR: a parent is not a directory), as the native check reads it. */
function statIfExists(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

export class ContextSnapshot {
  private byName: Map<string, number> | undefined;
  private readonly racy: Set<number>;

  private constructor(readonly file: string, readonly root: string, private readonly data: SnapshotData | undefined, private readonly startedAt: number) {
    this.racy = new Set(data?.racy ?? []);
  }

  static fileFor(cacheDir: string, root: string, dockerfilePath: string | undefined): string {
    return path.join(cacheDir, `${sha256Hex(`${root}\0${dockerfilePath ?? ''}`).slice(0, 32)}.snap`);
  }

  /**
   * Taken before the walk's first lstat (the racy rule compares with it).
   * `check`, when given, gets the open file of a snapshot that allows the
   * shortcut (and its number of rows), before it is decoded here: the native check reads the very
   * bytes this process reads (the file is replaced by rename, never
   * rewritten), from offset 0, which this process's positioned reads leave
   * as it is; and it starts as early as it can.
   */
  static open(cacheDir: string, root: string, dockerfilePath: string | undefined, check?: (fd: number, rows: number) => void): ContextSnapshot {
    const file = ContextSnapshot.fileFor(cacheDir, root, dockerfilePath);
    const startedAt = Date.now();
    let data: SnapshotData | undefined;
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const buf = readAt0(fd);
      if (check && buf.length >= FIXED && (buf.readUInt32LE(8 + 4 * 5) & FLAG_CHECKABLE) !== 0) check(fd, buf.readUInt32LE(8 + 4 * 1));
      data = decode(buf, root);
    } catch {
      // None yet, or unreadable: every file is hashed.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return new ContextSnapshot(file, root, data, startedAt);
  }

  get size(): number {
    return this.data?.rows ?? 0;
  }

  /** Every stat the snapshot holds can be trusted: an unchanged context may skip the walk, and the native check may say so. */
  get checkable(): boolean {
    return !!this.data?.checkable && this.settled;
  }

  /** Regular files among the rows. */
  get files(): number {
    return this.data?.files ?? 0;
  }

  /** The rows' paths (relative to the root, '/'-separated), in row order. */
  get names(): readonly string[] {
    return this.data?.names ?? [];
  }

  /** The digest of the manifest this snapshot holds, '' when there is none. */
  get digest(): string {
    return this.data?.digest ?? '';
  }

  /** Every row can be trusted as it is (none is racy). */
  get settled(): boolean {
    return this.racy.size === 0;
  }

  /**
   * Is the context exactly as this snapshot saw it? One stat per ignore
   * file and one lstat per row, stopping at the first difference; false
   * whenever the answer is not certain (a racy row, no snapshot).
   */
  unchangedOnDisk(): boolean {
    const d = this.data;
    if (!d || !this.checkable) return false;
    for (const [i, p] of d.aroundPaths.entries()) {
      let st: Stats | undefined;
      try {
        st = statIfExists(p);
      } catch {
        return false;
      }
      if (st ? !sameNums(d.aroundNums, i * NUMS, st) : d.aroundNums[i * NUMS] !== 0) return false;
    }
    const prefix = this.root === '/' ? '/' : `${this.root}/`;
    const { names, nums } = d;
    try {
      for (let i = 0; i < names.length; i++) {
        const st = lstatSync(prefix + names[i], { throwIfNoEntry: false });
        if (!st || !sameNums(nums, i * NUMS, st)) return false;
      }
    } catch {
      // Unreadable now (EACCES, ENOTDIR): the walk says what the context holds.
      return false;
    }
    return true;
  }

  /** Does row `i` describe this entry, unchanged? */
  matches(i: number, name: string, st: StatNums): boolean {
    const d = this.data;
    if (!d || d.names[i] !== name || this.racy.has(i)) return false;
    return sameNums(d.nums, i * NUMS, st);
  }

  /** Row `i` as saved (only meaningful for a row that matches()). */
  rowAt(i: number): SnapshotRow {
    const d = this.data!;
    const n = d.nums;
    const at = i * NUMS;
    const hex = d.digests.slice(i * HEX, (i + 1) * HEX);
    const row: SnapshotRow = { name: d.names[i]!, mode: n[at]!, size: n[at + 1]!, mtimeMs: n[at + 2]!, ctimeMs: n[at + 3]!, ino: n[at + 4]!, dev: n[at + 5]! };
    if (hex !== NO_DIGEST) row.digest = `sha256:${hex}`;
    const link = d.links[String(i)];
    if (link !== undefined) row.link = link;
    return row;
  }

  /** The digest row `i` holds (only meaningful for a row that matches()). */
  digestAt(i: number): string | undefined {
    const hex = this.data!.digests.slice(i * HEX, (i + 1) * HEX);
    return hex === NO_DIGEST ? undefined : `sha256:${hex}`;
  }

  /** The row of this name, wherever it is (entries added or removed shift the rest). */
  indexOf(name: string): number | undefined {
    if (!this.byName) this.byName = new Map((this.data?.names ?? []).map((n, i) => [n, i]));
    return this.byName.get(name);
  }

  /** Writes the rows of this walk (temp file + rename); a failure only costs the next build its shortcut. */
  save(rows: readonly SnapshotRow[], digest: string, around: readonly AroundStat[]): void {
    try {
      writeTextAtomicallySync(this.file, encode(this.root, rows, digest, around, this.startedAt));
    } catch {
      // Written or not: the next build walks.
    }
    forgetOldSnapshots(path.dirname(this.file));
  }
}

// An entry is trusted when it changed before the walk started by more than
// its file system's timestamp granularity (the checksum cache's rule: 0.1 s
// where its ctime shows fine timestamps, 2 s elsewhere).
function racy(mtimeMs: number, ctimeMs: number, startedAt: number): boolean {
  return startedAt <= untrustedUntil(mtimeMs, ctimeMs);
}

function encode(root: string, rows: readonly SnapshotRow[], digest: string, around: readonly AroundStat[], startedAt: number): Buffer {
  const racyRows: number[] = [];
  const links: Record<string, string> = {};
  const nums = new Float64Array((around.length + rows.length) * NUMS);
  const names = new Array<string>(rows.length);
  const digests = new Array<string>(rows.length);
  let files = 0;
  for (const [i, a] of around.entries()) nums.set(a.slice(1) as number[], i * NUMS);
  // Plain indexed loops, nothing allocated per row but its digest's slice:
  // this runs once per process, mostly before V8 optimizes it.
  let at = around.length * NUMS;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (racy(r.mtimeMs, r.ctimeMs, startedAt)) racyRows.push(i);
    nums[at] = r.mode;
    nums[at + 1] = r.size;
    nums[at + 2] = r.mtimeMs;
    nums[at + 3] = r.ctimeMs;
    nums[at + 4] = r.ino;
    nums[at + 5] = r.dev;
    at += NUMS;
    if ((r.mode & S_IFMT) === S_IFREG) files++;
    names[i] = r.name;
    digests[i] = r.digest ? r.digest.slice(DIGEST_PREFIX) : NO_DIGEST;
    if (r.link !== undefined) links[String(i)] = r.link;
  }
  const aroundRacy = around.some(([, , , mtimeMs, ctimeMs]) => racy(mtimeMs, ctimeMs, startedAt));
  const header: Header = { root, digest, files, racy: racyRows, links };
  const head = Buffer.from(JSON.stringify(header));
  const paths = Buffer.from(around.map((a) => a[0]).join('\0'));
  const namesBytes = Buffer.from(names.join('\0'));
  const fixed = Buffer.alloc(FIXED);
  fixed.write(MAGIC, 0, 'latin1');
  const flags = (digest !== '' && racyRows.length === 0 && !aroundRacy ? FLAG_CHECKABLE : 0) | (BIG_ENDIAN ? FLAG_BIG_ENDIAN : 0);
  [head.length, rows.length, namesBytes.length, around.length, paths.length, flags].forEach((v, i) => fixed.writeUInt32LE(v, 8 + 4 * i));
  const before = FIXED + head.length + paths.length + namesBytes.length;
  return Buffer.concat([fixed, head, paths, namesBytes, Buffer.alloc((8 - (before % 8)) % 8), Buffer.from(nums.buffer), Buffer.from(digests.join(''), 'latin1')]);
}

/** What a row keeps of an entry's stat. */
type StatNums = Pick<Stats, 'mode' | 'size' | 'mtimeMs' | 'ctimeMs' | 'ino' | 'dev'>;

function sameNums(n: ArrayLike<number>, at: number, st: StatNums): boolean {
  return n[at] === st.mode && n[at + 1] === st.size && n[at + 2] === st.mtimeMs && n[at + 3] === st.ctimeMs && n[at + 4] === st.ino && n[at + 5] === st.dev;
}

/** The whole file, read at explicit positions: the file offset (shared with the native check's stdin) stays at 0. */
function readAt0(fd: number): Buffer {
  const buf = Buffer.allocUnsafe(fstatSync(fd).size);
  let n = 0;
  while (n < buf.length) {
    const r = readSync(fd, buf, n, buf.length - n, n);
    if (r === 0) return buf.subarray(0, n);
    n += r;
  }
  return buf;
}

/** The snapshot in a file, or undefined when it is of another format, another root or damaged. */
function decode(buf: Buffer, root: string): SnapshotData | undefined {
  if (buf.length < FIXED || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const [headBytes, rows, namesBytes, around, pathsBytes, flags] = [0, 1, 2, 3, 4, 5].map((i) => buf.readUInt32LE(8 + 4 * i)) as [number, number, number, number, number, number];
  if (!!(flags & FLAG_BIG_ENDIAN) !== BIG_ENDIAN) return undefined;
  const pathsAt = FIXED + headBytes;
  const namesAt = pathsAt + pathsBytes;
  const end = namesAt + namesBytes;
  const numsAt = end + ((8 - (end % 8)) % 8);
  const digestsAt = numsAt + (around + rows) * NUMS * 8;
  if (buf.length !== digestsAt + rows * HEX) return undefined;
  const h = JSON.parse(buf.toString('utf8', FIXED, pathsAt)) as Header;
  if (h.root !== root || !Array.isArray(h.racy) || typeof h.links !== 'object') return undefined;
  const aroundPaths = around === 0 ? [] : buf.toString('utf8', pathsAt, namesAt).split('\0');
  if (aroundPaths.length !== around || nulCount(buf, namesAt, end) !== Math.max(rows - 1, 0)) return undefined;
  // A Float64Array needs an 8-byte aligned offset: copy the numbers when the file's buffer does not give one.
  const at = buf.byteOffset + numsAt;
  const all = at % 8 === 0 ? new Float64Array(buf.buffer, at, (around + rows) * NUMS) : new Float64Array(buf.buffer.slice(at, at + (around + rows) * NUMS * 8));
  let names: string[] | undefined;
  let digests: string | undefined;
  return {
    ...h, checkable: (flags & FLAG_CHECKABLE) !== 0 && around > 0, rows, aroundPaths,
    aroundNums: all.subarray(0, around * NUMS), nums: all.subarray(around * NUMS),
    get names() {
      return (names ??= rows === 0 ? [] : buf.toString('utf8', namesAt, end).split('\0'));
    },
    get digests() {
      return (digests ??= buf.toString('latin1', digestsAt));
    },
  };
}

/**
 * NUL bytes in buf[from, to): the separators of the names, counted
 * without making 5,000 strings. V8's own indexOf: Buffer's adds argument
 * checks that cost several times the search.
 */
function nulCount(buf: Buffer, from: number, to: number): number {
  const indexOf = Uint8Array.prototype.indexOf;
  let n = 0;
  for (let at = indexOf.call(buf, 0, from); at >= 0 && at < to; at = indexOf.call(buf, 0, at + 1)) n++;
  return n;
}

// Snapshots not rewritten for a month go (a temp directory built once
// would stay for ever); a context that comes back is hashed once more.
// The directory is looked through at most once a day (a marker file's
// mtime says when): it holds one file per context ever built, and a stat
// of each on every save cost a no-op ~15 ms once it held ~800.
const FORGET_AFTER_MS = 30 * 24 * 3600 * 1000;
const FORGET_EVERY_MS = 24 * 3600 * 1000;
const FORGET_MARKER = '.last-forget';

function forgetOldSnapshots(dir: string): void {
  const now = Date.now();
  const marker = path.join(dir, FORGET_MARKER);
  if ((statSync(marker, { throwIfNoEntry: false })?.mtimeMs ?? 0) > now - FORGET_EVERY_MS) return;
  const before = now - FORGET_AFTER_MS;
  try {
    writeFileSync(marker, '');
    for (const name of readdirSync(dir)) {
      if (name === FORGET_MARKER) continue;
      const file = path.join(dir, name);
      if ((statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < before) rmSync(file, { force: true });
    }
  } catch {
    // Best effort: a snapshot left behind costs disk space only.
  }
}
