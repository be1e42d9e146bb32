// The lstats of a context's entries that the memo lookup's native check
// took just before this build (builder/cli/local-memo-entry.ts with
// remote/native-stat-check.ts's table): a local build that misses the memo
// (a rebuild after an edit) walks its context with them instead of one
// lstat per entry in Node, which wraps each in a Stats object with four
// Dates; on a 5,000-file context that walk was ~45 ms of a ~500 ms rebuild
// and most of its garbage.
//
// The two bundles of the CLI (the lean one that looks up the memo, the full
// one that builds) are separate module instances in one process: the table
// goes from one to the other through a global, named by a registered
// symbol.
//
// A stat taken earlier is what a walk started earlier would have seen, and
// the walk reads each listing now: an entry added or removed since has
// changed its directory's listing, and one absent from the table is lstat'ed
// here. What makes an earlier stat safe is the racy rule
// (cache/checksum-cache.ts): an entry whose change was not safely older than
// the moment the table was taken could still have been written again with
// the same stat, so it is lstat'ed again too; every other entry changed
// since shows another stat the next time anything looks (so a later build
// misses, never hits, on it).
import type { Stats } from 'node:fs';
import { untrustedUntil } from '../../cache/checksum-cache.js';

const GLOBAL = Symbol.for('tsbuild.context-prestat');

/** What the native check took: `nums` has TABLE_NUMS numbers per name (mode, size, mtime, ctime, ino, dev, uid, gid, nlink; zeros: gone). */
export interface PrestatTable {
  /** The context directory (resolved). */
  root: string;
  /** Date.now() before the first of the lstats. */
  takenAt: number;
  /** Paths relative to root, '/'-separated, in the table's order. */
  names: readonly string[];
  nums: Float64Array;
}

const NUMS = 9;

type Holder = { [GLOBAL]?: PrestatTable };

/** Hands a table to the rest of this process (the full CLI's build). */
export function publishPrestat(table: PrestatTable): void {
  if (table.nums.length === table.names.length * NUMS) (globalThis as Holder)[GLOBAL] = table;
}

/** Drops the table handed over, if any. */
export function forgetPrestat(): void {
  delete (globalThis as Holder)[GLOBAL];
}

/** The stats of the context at `root`, when this process was handed them. */
export function prestatOf(root: string): Prestat | undefined {
  const table = (globalThis as Holder)[GLOBAL];
  return table && table.root === root ? (cached?.table === table ? cached : (cached = new Prestat(table))) : undefined;
}

let cached: Prestat | undefined;

/** What a walk needs of an entry's lstat. */
export type WalkStat = Pick<Stats, 'mode' | 'uid' | 'gid' | 'nlink' | 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'
  | 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO'>;

export class Prestat {
  private byName: Map<string, number> | undefined;

  constructor(readonly table: PrestatTable) {}

  /** The entry's stat as taken, for a path relative to the root; undefined when it was gone then or is racy. */
  stat(rel: string): WalkStat | undefined {
    const i = (this.byName ??= indexOf(this.table.names)).get(rel);
    if (i === undefined) return undefined;
    const n = this.table.nums;
    const at = i * NUMS;
    if (n[at] === 0 || untrustedUntil(n[at + 2]!, n[at + 3]!) >= this.table.takenAt) return undefined;
    return new TakenStat(n[at]!, n[at + 1]!, n[at + 2]!, n[at + 3]!, n[at + 4]!, n[at + 5]!, n[at + 6]!, n[at + 7]!, n[at + 8]!);
  }
}

function indexOf(names: readonly string[]): Map<string, number> {
  const byName = new Map<string, number>();
  for (let i = 0; i < names.length; i++) byName.set(names[i]!, i);
  return byName;
}

const S_IFMT = 0o170000;

class TakenStat implements WalkStat {
  constructor(
    readonly mode: number, readonly size: number, readonly mtimeMs: number, readonly ctimeMs: number,
    readonly ino: number, readonly dev: number, readonly uid: number, readonly gid: number, readonly nlink: number,
  ) {}

  isFile(): boolean { return (this.mode & S_IFMT) === 0o100000; }
  isDirectory(): boolean { return (this.mode & S_IFMT) === 0o040000; }
  isSymbolicLink(): boolean { return (this.mode & S_IFMT) === 0o120000; }
  isCharacterDevice(): boolean { return (this.mode & S_IFMT) === 0o020000; }
  isBlockDevice(): boolean { return (this.mode & S_IFMT) === 0o060000; }
  isFIFO(): boolean { return (this.mode & S_IFMT) === 0o010000; }
}
