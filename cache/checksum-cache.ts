// A stat-based file checksum cache that survives between builds: one JSON
// file per build context dir under the store (`<root>/checksums/`), mapping
// each file to the stat identity it had when hashed (device, inode, size,
// mtime, ctime, as Docker and BuildKit do) and its sha256. A file whose stat
// identity is unchanged is not read again.
//
// Stale hashes: a file rewritten with the same size in the same timestamp
// tick as the stat we recorded keeps an identical identity. Like git's
// "racily clean" index entries, an entry whose mtime or ctime is not safely
// older than the moment this build started (minus the file system's
// timestamp granularity) is used within this build only and never saved,
// so the next build hashes that file again.
//
// The granularity is read from the entry itself: the kernel sets ctime
// (users cannot), so a ctime with a sub-millisecond part comes from a file
// system that keeps fine timestamps (ext4, xfs, btrfs, tmpfs). There a
// later write is stamped with the kernel's coarse clock, at most one tick
// (1-10 ms) behind the real one, so anything written after the build
// started gets a ctime above `start - FINE_RACY_MARGIN_MS`. Any other
// entry waits RACY_MARGIN_MS, enough for the coarsest file systems.
// Without this, a build right after the context was written (a checkout,
// a generator) would save nothing, and the next no-op would read every
// file again.
//
// Beside it, a small file of whole selections (`<id>.sel.json`): the
// checksum a COPY's selection had, under a fingerprint of every selected
// entry's name, mode, owner and stat identity. A no-op rebuild walks the
// context, finds the same fingerprint and is done, without loading the
// per-file table at all (see builder/context/checksum.ts). The same racy
// rule applies: a selection with an entry changed too close to the
// build's start is not remembered.
import { createHash } from '../runner-native/native-crypto.js';
import { readFileSync } from 'node:fs';
import { writeTextAtomicallySync } from './write-atomic.js';
import path from 'node:path';

/** The stat fields a cached checksum is valid for (same shape as builder's StatKey). */
export interface FileStatKey {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

// Filesystems keep timestamps at 1 ns (ext4, xfs) to 2 s (FAT) granularity,
// and the kernel's clock for them ticks every few ms: 2 s covers them all.
export const RACY_MARGIN_MS = 2000;
// For an entry whose ctime shows sub-millisecond precision: ten times the
// longest kernel tick (HZ=100).
export const FINE_RACY_MARGIN_MS = 100;
// Entries this build did not look at are kept (another COPY may select them
// next time) up to this many; beyond, only this build's entries are saved.
const MAX_KEPT_ENTRIES = 200_000;
const FORMAT_VERSION = 2;
const HEX = 64;
const HEX_DIGITS = /^[0-9a-f]*$/;
// Selections remembered per context (several Dockerfiles, targets, COPYs).
const MAX_SELECTIONS = 256;
const SELECTIONS_VERSION = 1;

// [memo key (what was selected, how), fingerprint of the entries, checksum]
type SelectionRow = [key: string, fingerprint: string, digest: string];

interface SelectionsFile {
  v: number;
  root: string;
  sel: SelectionRow[];
}

type Row = [dev: number, ino: number, size: number, mtimeMs: number, ctimeMs: number, digest: string];

// Columnar on disk, so that loading 5,000 entries is three JSON values, not
// 5,000 small arrays: a warm rebuild reads this file every time.
interface CacheFile {
  v: number;
  root: string;
  names: string[];         // relative to root, or absolute outside it
  nums: number[];          // dev, ino, size, mtimeMs, ctimeMs per name
  digests: string;         // 64 hex digits per name
}

export interface ChecksumCacheOptions {
  /** Clock, for tests. */
  now?: () => number;
  /**
   * Leave the per-file table on disk until load() is called: a rebuild
   * whose selections all match their fingerprints never needs it.
   */
  deferEntries?: boolean;
}

export class PersistentChecksumCache {
  // As loaded: name → row number in `nums` / `digests`.
  private readonly loaded = new Map<string, number>();
  private nums: number[] = [];
  private digests = '';
  // Set by this build (new or re-hashed files), by name; kept after a save
  // (the build's lookups still need them, and a later save writes them
  // again with whatever was set since).
  private readonly changed = new Map<string, Row>();
  private unsaved = false;
  private touched: Set<string> | undefined;
  // Taken before any file of this build is stat'ed: see the racy rule above.
  private readonly sessionStart: number;
  private readonly prefix: string;
  private loading: Promise<void> | undefined;
  // Selections by memo key: those known from disk, then those this build set.
  private readonly selections = new Map<string, SelectionRow>();
  private selectionsChanged = false;

  private constructor(readonly file: string, readonly root: string, opts: ChecksumCacheOptions) {
    this.sessionStart = (opts.now ?? Date.now)();
    this.prefix = root === '/' ? '/' : root + path.sep;
  }

  private get selectionsFile(): string {
    return this.file.replace(/\.json$/, '.sel.json');
  }

  /** The cache file for one context dir under `dir` (the store's `checksums/`). */
  static fileFor(dir: string, contextRoot: string): string {
    const id = createHash('sha256').update(path.resolve(contextRoot)).digest('hex').slice(0, 32);
    return path.join(dir, `${id}.json`);
  }

  /** Loads the cache of `contextRoot`; a missing or unreadable file is an empty cache. */
  static async open(dir: string, contextRoot: string, opts: ChecksumCacheOptions = {}): Promise<PersistentChecksumCache> {
    const root = path.resolve(contextRoot);
    const cache = new PersistentChecksumCache(PersistentChecksumCache.fileFor(dir, root), root, opts);
    try {
      // A few rows, read as every build opens its context: synchronously.
      const data = JSON.parse(readFileSync(cache.selectionsFile, 'utf8')) as SelectionsFile;
      if (data.v === SELECTIONS_VERSION && data.root === root && Array.isArray(data.sel)) {
        for (const row of data.sel) if (row.length === 3 && row.every((x) => typeof x === 'string')) cache.selections.set(row[0], row);
      }
    } catch {
      // None yet, or damaged: selections are checksummed file by file.
    }
    if (!opts.deferEntries) await cache.load();
    return cache;
  }

  /** Reads the per-file table (once); get() and set() need it. */
  load(): Promise<void> {
    this.loading ??= this.readEntries();
    return this.loading;
  }

  // Synchronous: the step that asks waits for the table, and an async read
  // (open, stat, read, close) queued behind the threadpool's other work
  // cost c's one-file rebuild ~1.2 ms more before its COPY could start; the
  // parse, on this thread either way, is most of a big table's time.
  private async readEntries(): Promise<void> {
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as CacheFile;
      const n = data.names?.length ?? 0;
      // The digests are checked here, at once: saving copies them as they are.
      if (data.v === FORMAT_VERSION && data.root === this.root && data.nums.length === n * 5 && data.digests.length === n * HEX && HEX_DIGITS.test(data.digests)) {
        for (let i = 0; i < n; i++) this.loaded.set(data.names[i]!, i);
        this.nums = data.nums;
        this.digests = data.digests;
      }
    } catch {
      // No cache yet, or a damaged one: every file is hashed again.
    }
    // Only a huge cache needs to know what this build used (see MAX_KEPT_ENTRIES).
    if (this.loaded.size > MAX_KEPT_ENTRIES / 2) this.touched = new Set();
  }

  /** The checksum of the selection `key` when its entries had this fingerprint, if remembered. */
  selectionDigest(key: string, fingerprint: string): string | undefined {
    const row = this.selections.get(key);
    return row && row[1] === fingerprint ? row[2] : undefined;
  }

  /**
   * Remembers a selection's checksum under its fingerprint, unless one of
   * its entries changed too recently to be trusted: `trustedFrom` is the
   * latest moment at which one of them was still racy (see above).
   */
  rememberSelection(key: string, fingerprint: string, digest: string, trustedFrom: number): void {
    if (trustedFrom >= this.sessionStart || this.selectionDigest(key, fingerprint) === digest) return;
    // Re-inserted: the most recently set are the last ones dropped.
    this.selections.delete(key);
    this.selections.set(key, [key, fingerprint, digest]);
    this.selectionsChanged = true;
  }

  get size(): number {
    let n = this.loaded.size;
    for (const name of this.changed.keys()) if (!this.loaded.has(name)) n++;
    return n;
  }

  get(hostPath: string, key: FileStatKey): string | undefined {
    const name = this.nameOf(hostPath);
    this.touched?.add(name);
    const changed = this.changed.get(name);
    if (changed) return sameIdentity(changed, key) ? changed[5] : undefined;
    // The hot path of a warm rebuild: compare in place, allocate only the answer.
    const i = this.loaded.get(name);
    if (i === undefined) return undefined;
    const n = this.nums;
    const at = i * 5;
    if (n[at] !== key.dev || n[at + 1] !== key.ino || n[at + 2] !== key.size || n[at + 3] !== key.mtimeMs || n[at + 4] !== key.ctimeMs) return undefined;
    return 'sha256:' + this.digests.slice(i * HEX, (i + 1) * HEX);
  }

  set(hostPath: string, key: FileStatKey, digest: string): void {
    const name = this.nameOf(hostPath);
    this.touched?.add(name);
    const old = this.rowOf(name);
    if (old && old[5] === digest && sameIdentity(old, key)) return;
    this.changed.set(name, [key.dev, key.ino, key.size, key.mtimeMs, key.ctimeMs, digest]);
    this.unsaved = true;
  }

  /** Writes the cache if it changed (temp file + rename: readers see the old or the new file). */
  async save(): Promise<boolean> {
    // Two files, written side by side: the build's end waits for both.
    const [selections, entries] = await Promise.all([this.saveSelections(), this.saveEntries()]);
    return selections || entries;
  }

  private async saveSelections(): Promise<boolean> {
    if (!this.selectionsChanged) return false;
    const sel = [...this.selections.values()].slice(-MAX_SELECTIONS);
    // A few rows: written synchronously (writeTextAtomicallySync()).
    writeTextAtomicallySync(this.selectionsFile, JSON.stringify({ v: SELECTIONS_VERSION, root: this.root, sel } satisfies SelectionsFile));
    this.selectionsChanged = false;
    return true;
  }

  private async saveEntries(): Promise<boolean> {
    if (!this.unsaved) return false;
    // Set without a load: merged into what is on disk, not written over it.
    await this.load();
    const start = this.sessionStart;
    const trusted = (mtimeMs: number, ctimeMs: number) => untrustedUntil(mtimeMs, ctimeMs) < start;
    // Only rows too recent to trust were set (a rebuild right after an
    // edit): the table on disk stays as it is. What a write would drop are
    // rows of files changed since, whose old identity never matches again;
    // a cold write of 5,000 rows cost a one-file rebuild 15-20 ms of CPU.
    if (!someValue(this.changed, (row) => trusted(row[3], row[4]))) {
      this.unsaved = false;
      return false;
    }
    const kept = (name: string) => !this.touched || this.touched.has(name) || this.size <= MAX_KEPT_ENTRIES;
    const data: CacheFile = { v: FORMAT_VERSION, root: this.root, names: [], nums: [], digests: '' };
    const digests: string[] = [];
    // The loaded rows are copied from the table as they are (a one-file
    // rebuild saves thousands of them): no row made, no digest checked again.
    const n = this.nums;
    for (const [name, i] of this.loaded) {
      const at = i * 5;
      if (this.changed.has(name) || !trusted(n[at + 3]!, n[at + 4]!) || !kept(name)) continue;
      data.names.push(name);
      data.nums.push(n[at]!, n[at + 1]!, n[at + 2]!, n[at + 3]!, n[at + 4]!);
      digests.push(this.digests.slice(i * HEX, (i + 1) * HEX));
    }
    for (const [name, row] of this.changed) {
      if (!trusted(row[3], row[4]) || !kept(name) || !/^sha256:[0-9a-f]{64}$/.test(row[5])) continue;
      data.names.push(name);
      data.nums.push(row[0], row[1], row[2], row[3], row[4]);
      digests.push(row[5].slice(7));
    }
    data.digests = digests.join('');
    this.unsaved = false;
    try {
      // Synchronously, as the selections are: it is saved as the image is
      // exported, and an async write's threadpool round trips queued with
      // the last layer's and the image's fsyncs (a 5,000-row table is
      // ~0.4 MB, a copy into the page cache).
      writeTextAtomicallySync(this.file, JSON.stringify(data));
    } catch (err) {
      this.unsaved = true;
      throw err;
    }
    return true;
  }

  private rowOf(name: string): Row | undefined {
    const changed = this.changed.get(name);
    if (changed) return changed;
    const i = this.loaded.get(name);
    if (i === undefined) return undefined;
    const n = this.nums;
    const at = i * 5;
    return [n[at]!, n[at + 1]!, n[at + 2]!, n[at + 3]!, n[at + 4]!, 'sha256:' + this.digests.slice(i * HEX, (i + 1) * HEX)];
  }

  // Paths inside the context are stored relative to it: a smaller file.
  private nameOf(hostPath: string): string {
    return hostPath.startsWith(this.prefix) ? hostPath.slice(this.prefix.length) : hostPath;
  }
}

/** How long before the build's start a change must be for its entry to be trusted later (see above). */
export function racyMargin(ctimeMs: number): number {
  return Number.isInteger(ctimeMs) ? RACY_MARGIN_MS : FINE_RACY_MARGIN_MS;
}

/** The last moment a walk or build starting then must not trust an entry of these times (the rule above). */
export function untrustedUntil(mtimeMs: number, ctimeMs: number): number {
  return Math.max(mtimeMs, ctimeMs) + racyMargin(ctimeMs);
}

function sameIdentity(row: Row, key: FileStatKey): boolean {
  return row[0] === key.dev && row[1] === key.ino && row[2] === key.size && row[3] === key.mtimeMs && row[4] === key.ctimeMs;
}

// Array.prototype.some over a Map's values, without copying them (a cold build's 50,000 rows) into an array first.
function someValue<V>(map: ReadonlyMap<unknown, V>, test: (value: V) => boolean): boolean {
  for (const value of map.values()) if (test(value)) return true;
  return false;
}
