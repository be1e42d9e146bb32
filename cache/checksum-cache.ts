// A stat-based file checksum cache that survives between builds: one JSON
// file per build context dir under the store (`<root>/checksums/`), mapping
// each file to the stat identity it had when hashed (device, inode, size,
// mtime, ctime, as Docker and BuildKit do) and its sha256. A file whose stat
// identity is unchanged is not read again.
//
// Stale hashes: a file rewritten with the same size in the same timestamp
// tick as the stat we recorded keeps an identical identity. Like git's
// "racily clean" index entries, an entry whose mtime or ctime is not safely
// older than the moment this build started (minus the coarsest timestamp
// granularity we may meet) is used within this build only and never saved,
// so the next build hashes that file again.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
// Entries this build did not look at are kept (another COPY may select them
// next time) up to this many; beyond, only this build's entries are saved.
const MAX_KEPT_ENTRIES = 200_000;
const FORMAT_VERSION = 1;

type Row = [dev: number, ino: number, size: number, mtimeMs: number, ctimeMs: number, digest: string];

interface CacheFile {
  v: number;
  root: string;
  entries: Record<string, Row>;
}

export interface ChecksumCacheOptions {
  /** Clock, for tests. */
  now?: () => number;
}

export class PersistentChecksumCache {
  // Keyed by host path; loaded rows keep the parsed object's arrays as they are.
  private readonly rows = new Map<string, Row>();
  private readonly touched = new Set<string>();
  private dirty = false;
  // Taken before any file of this build is stat'ed: see the racy rule above.
  private readonly sessionStart: number;

  private constructor(readonly file: string, readonly root: string, opts: ChecksumCacheOptions) {
    this.sessionStart = (opts.now ?? Date.now)();
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
      const data = JSON.parse(await readFile(cache.file, 'utf8')) as CacheFile;
      if (data.v === FORMAT_VERSION && data.root === root) {
        const prefix = root === '/' ? '/' : root + '/';
        for (const rel in data.entries) cache.rows.set(rel.startsWith('/') ? rel : prefix + rel, data.entries[rel]!);
      }
    } catch {
      // No cache yet, or a damaged one: every file is hashed again.
    }
    return cache;
  }

  get size(): number {
    return this.rows.size;
  }

  get(hostPath: string, key: FileStatKey): string | undefined {
    const row = this.rows.get(hostPath);
    if (!row || !sameIdentity(row, key)) return undefined;
    this.touched.add(hostPath);
    return row[5];
  }

  set(hostPath: string, key: FileStatKey, digest: string): void {
    const old = this.rows.get(hostPath);
    this.touched.add(hostPath);
    if (old && old[5] === digest && sameIdentity(old, key)) return;
    this.rows.set(hostPath, [key.dev, key.ino, key.size, key.mtimeMs, key.ctimeMs, digest]);
    this.dirty = true;
  }

  /** Writes the cache if it changed (temp file + rename: readers see the old or the new file). */
  async save(): Promise<boolean> {
    if (!this.dirty) return false;
    const trustedBefore = this.sessionStart - RACY_MARGIN_MS;
    const keepUntouched = this.rows.size <= MAX_KEPT_ENTRIES;
    const entries: Record<string, Row> = {};
    for (const [name, row] of this.rows) {
      if (Math.max(row[3], row[4]) >= trustedBefore) continue;
      if (!keepUntouched && !this.touched.has(name)) continue;
      entries[this.nameOf(name)] = row;
    }
    const data: CacheFile = { v: FORMAT_VERSION, root: this.root, entries };
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(data));
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.dirty = false;
    return true;
  }

  // Paths inside the context are stored relative to it: a smaller file.
  private nameOf(hostPath: string): string {
    return hostPath.startsWith(this.root + path.sep) ? hostPath.slice(this.root.length + 1) : hostPath;
  }
}

function sameIdentity(row: Row, key: FileStatKey): boolean {
  return row[0] === key.dev && row[1] === key.ino && row[2] === key.size && row[3] === key.mtimeMs && row[4] === key.ctimeMs;
}
