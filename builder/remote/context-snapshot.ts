// What the client saw of a context directory at its last remote build, in
// walk order: each entry's name, stat identity (mode, size, mtime, ctime,
// inode, device), content digest and link target, and the digest of the
// whole manifest. A rebuild compares each lstat with the row at the same
// position: when every row matches, the manifest and its digest are the
// remembered ones and nothing is hashed or built; a changed row costs its
// file's hash only. One JSON file per context directory (and Dockerfile,
// whose ignore file may differ) under the client's cache directory.
//
// Racily clean files (see cache/checksum-cache.ts): a row whose mtime or
// ctime is not safely older than the walk's start is marked racy: it never
// matches, so the next walk hashes that file again. The rows stay exact, so
// they are also the manifest the server was last sent, which the next
// changed build describes as a delta.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { RACY_MARGIN_MS } from '../../cache/checksum-cache.js';

const FORMAT = 2;
/** Numbers per row: st.mode (type and permission bits), size, mtimeMs, ctimeMs, ino, dev. */
const NUMS = 6;
const HEX = 64;
const NO_DIGEST = '-'.repeat(HEX);

interface SnapshotFile {
  v: number;
  root: string;
  /** manifestDigest() of the rows. */
  digest: string;
  names: string[];
  nums: number[];
  /** Rows that must not match (racily clean). */
  racy: number[];
  /** 64 hex digits per row ('-' for entries that are not files). */
  digests: string;
  /** Link targets by row number. */
  links: Record<string, string>;
}

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

export class ContextSnapshot {
  private byName: Map<string, number> | undefined;
  private readonly racy: Set<number>;

  private constructor(readonly file: string, readonly root: string, private readonly data: SnapshotFile | undefined, private readonly startedAt: number) {
    this.racy = new Set(data?.racy ?? []);
  }

  static fileFor(cacheDir: string, root: string, dockerfilePath: string | undefined): string {
    return path.join(cacheDir, `${createHash('sha256').update(`${root}\0${dockerfilePath ?? ''}`).digest('hex').slice(0, 32)}.json`);
  }

  /** Taken before the walk's first lstat (the racy rule compares with it). */
  static open(cacheDir: string, root: string, dockerfilePath: string | undefined): ContextSnapshot {
    const file = ContextSnapshot.fileFor(cacheDir, root, dockerfilePath);
    const startedAt = Date.now();
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as SnapshotFile;
      const n = data.names?.length ?? 0;
      if (data.v === FORMAT && data.root === root && data.nums?.length === n * NUMS && data.digests?.length === n * HEX && Array.isArray(data.racy)) return new ContextSnapshot(file, root, data, startedAt);
    } catch {
      // None yet, or unreadable: every file is hashed.
    }
    return new ContextSnapshot(file, root, undefined, startedAt);
  }

  get size(): number {
    return this.data?.names.length ?? 0;
  }

  /** The digest of the manifest this snapshot holds, '' when there is none. */
  get digest(): string {
    return this.data?.digest ?? '';
  }

  /** Every row can be trusted as it is (none is racy). */
  get settled(): boolean {
    return this.racy.size === 0;
  }

  /** Does row `i` describe this entry, unchanged? */
  matches(i: number, name: string, st: Stats): boolean {
    const d = this.data;
    if (!d || d.names[i] !== name || this.racy.has(i)) return false;
    const n = d.nums;
    const at = i * NUMS;
    return n[at] === st.mode && n[at + 1] === st.size && n[at + 2] === st.mtimeMs && n[at + 3] === st.ctimeMs && n[at + 4] === st.ino && n[at + 5] === st.dev;
  }

  /** Row `i` as saved (only meaningful for a row that matches()). */
  rowAt(i: number): SnapshotRow {
    const d = this.data!;
    const n = d.nums as number[];
    const at = i * NUMS;
    const hex = d.digests.slice(i * HEX, (i + 1) * HEX);
    const row: SnapshotRow = { name: d.names[i]!, mode: n[at]!, size: n[at + 1]!, mtimeMs: n[at + 2]!, ctimeMs: n[at + 3]!, ino: n[at + 4]!, dev: n[at + 5]! };
    if (hex !== NO_DIGEST) row.digest = `sha256:${hex}`;
    const link = d.links[String(i)];
    if (link !== undefined) row.link = link;
    return row;
  }

  /** The row of this name, wherever it is (entries added or removed shift the rest). */
  indexOf(name: string): number | undefined {
    if (!this.byName) this.byName = new Map((this.data?.names ?? []).map((n, i) => [n, i]));
    return this.byName.get(name);
  }

  /** Writes the rows of this walk (temp file + rename); a failure only costs the next build its shortcut. */
  save(rows: readonly SnapshotRow[], digest: string): void {
    const trustedBefore = this.startedAt - RACY_MARGIN_MS;
    const data: SnapshotFile = { v: FORMAT, root: this.root, digest, names: [], nums: [], racy: [], digests: '', links: {} };
    const digests: string[] = [];
    for (const [i, r] of rows.entries()) {
      data.names.push(r.name);
      if (Math.max(r.mtimeMs, r.ctimeMs) >= trustedBefore) data.racy.push(i);
      data.nums.push(r.mode, r.size, r.mtimeMs, r.ctimeMs, r.ino, r.dev);
      digests.push(r.digest ? r.digest.slice('sha256:'.length) : NO_DIGEST);
      if (r.link !== undefined) data.links[String(i)] = r.link;
    }
    data.digests = digests.join('');
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      writeFileSync(tmp, JSON.stringify(data));
      renameSync(tmp, this.file);
    } catch {
      rmSync(tmp, { force: true });
    }
    forgetOldSnapshots(path.dirname(this.file));
  }
}

// Snapshots not rewritten for a month go (a temp directory built once
// would stay for ever); a context that comes back is hashed once more.
const FORGET_AFTER_MS = 30 * 24 * 3600 * 1000;

function forgetOldSnapshots(dir: string): void {
  const before = Date.now() - FORGET_AFTER_MS;
  try {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if ((statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < before) rmSync(file, { force: true });
    }
  } catch {
    // Best effort: a snapshot left behind costs disk space only.
  }
}
