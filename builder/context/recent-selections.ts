// The context selections this process checksummed last, kept in memory
// with each entry's digest, for the next checksum of the same selection in
// this process (the local memo's second solve, local-memo-record.ts, asks
// again right after a build that hashed the context).
//
// The store's selection memo (cache/checksum-cache.ts) cannot answer it
// when an entry had changed too shortly before the build started (the
// edit a rebuild follows): it is never remembered, and the second solve
// would load the per-file table, look up every file and sort and hash
// every line again. Here the same fingerprint (every entry's name, mode,
// owner and stat identity, in walk order) gives back the digests of the
// walk that hashed them, by position, and the racy rule is applied per
// entry instead of to the whole selection: a file whose change was not
// safely older than that walk's start (by the margin of its file
// system's timestamps) could have been written again, with the same
// size, in the same timestamp tick after it was read, so it is read
// again now; every other file changed after that walk started would show
// a later ctime, and so another fingerprint. The checksum is the one
// remembered when those files read the same; else it is computed from
// the entries.
//
// The walk itself can be kept too (`keep`, asked for by the CLI's build
// that will be recorded), for the recording's second solve to take instead
// of an lstat of every entry again (reusableWalk). That stays exact:
// - an entry whose mtime and ctime were safely older than the kept walk's
//   start (its file system's racy margin) and that changed after that walk
//   has a later ctime now. Its kept stat is what the solve's fingerprint and
//   the context snapshot record: the next build's stat check of the
//   snapshot sees the difference and walks, so the answer recorded under
//   the kept walk's digest is never given for what the context became;
// - an entry added, removed or renamed after the walk changed its
//   directory's mtime and ctime, the same way;
// - a file that was racy at the walk's start is lstat'ed again (it must have
//   kept its stat identity) and read again (recentChecksum), as a fresh
//   walk would have done; a racy directory, symlink or other entry gives
//   the reuse up (its listing or target would have to be read again);
// - the walk's root (its first entry) is lstat'ed again and must be as
//   walked: the snapshot takes the context directory's stat from its own
//   stat before the solve, not from the walk's rows, so a listing of the
//   root changed in between would otherwise be confirmed by it;
// - the ignore rules the walk went through must be the same (`variant`);
// - the recording (local-memo-record.ts) files nothing unless every entry
//   the build walked is older than the racy margin when it starts, and the
//   snapshot it saves has the second solve's start as its horizon.
import { LruMap } from '../../cache/lru-map.js';
import { untrustedUntil } from '../../cache/checksum-cache.js';

/** Bigger selections are not kept: a 50,000-file context's digests would add to its build's peak memory. */
export const RECENT_MAX_ENTRIES = 20_000;

/** What a selection's checksum needs of a walked entry. */
export interface RecentEntry {
  readonly type: string;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  digest: string;
}

interface Recent {
  fingerprint: string;
  checksum: string;
  /** Per entry, in walk order: its digest ('' for anything but a file). */
  digests: string[];
  /** Positions of the files whose digest must be read again before it is used. */
  racy: number[];
  /** The walk, when kept for reusableWalk(). */
  walk?: KeptWalk;
}

interface KeptWalk {
  readonly entries: readonly RecentEntry[];
  /** What else decided what the walk saw (the context's ignore rules). */
  readonly variant: string;
  /** The walk's fingerprint's trustedFrom (checksum.ts). */
  readonly trustedFrom: number;
  /** Date.now() before its first lstat. */
  readonly startedAt: number;
  /** An entry other than a file was racy at that time: the walk cannot be reused. */
  readonly racyOther: boolean;
}

/** What rememberRecent() keeps of a whole walk, so that a later solve can take it (reusableWalk()). */
export interface WalkToKeep {
  readonly variant: string;
  readonly trustedFrom: number;
}

/** A walk given back by reusableWalk(): its entries (digests as remembered), fingerprint, checksum, and the time it started. */
export interface ReusedWalk<E> {
  readonly entries: E[];
  readonly fingerprint: string;
  readonly checksum: string;
  readonly trustedFrom: number;
  readonly startedAt: number;
}

// A few selections: the whole context, and a build's other COPYs of it.
const recent = new LruMap<string, Recent>(4);

/** Remembers a selection just checksummed; `walkStartedAt`: Date.now() taken before its walk's first lstat. */
export function rememberRecent(key: string, fingerprint: string, checksum: string, entries: readonly RecentEntry[], walkStartedAt: number, keep?: WalkToKeep): void {
  if (entries.length > RECENT_MAX_ENTRIES) {
    recent.delete(key);
    return;
  }
  const racy: number[] = [];
  let racyOther = false;
  const digests = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    digests[i] = e.digest;
    if (walkStartedAt > untrustedUntil(e.mtimeMs, e.ctimeMs)) continue;
    if (e.type === 'file') racy.push(i);
    else racyOther = true;
  }
  const walk = keep && { entries, variant: keep.variant, trustedFrom: keep.trustedFrom, startedAt: walkStartedAt, racyOther };
  recent.set(key, { fingerprint, checksum, digests, racy, ...(walk ? { walk } : {}) });
}

/**
 * The entries of the kept walk of selection `key`, for a solve that would
 * walk it again now (see the rules above), or undefined when it must walk:
 * none kept, other ignore rules (`variant`), an entry other than a file
 * racy at that walk's start, or the root (the first entry) or a racy file
 * that `unchanged` (an lstat of it now) finds with another stat identity.
 * The racy files keep their remembered digests: recentChecksum() reads
 * them again.
 */
export function reusableWalk<E extends RecentEntry>(key: string, variant: string, unchanged: (entry: E) => boolean): ReusedWalk<E> | undefined {
  const r = recent.get(key);
  const walk = r?.walk;
  if (!r || !walk || walk.variant !== variant || walk.racyOther) return undefined;
  // The walk's own entries, as the caller's walk made them.
  const entries = walk.entries as E[];
  if (entries.length === 0 || !unchanged(entries[0]!) || !r.racy.every((i) => unchanged(entries[i]!))) return undefined;
  return { entries, fingerprint: r.fingerprint, checksum: r.checksum, trustedFrom: walk.trustedFrom, startedAt: walk.startedAt };
}

/**
 * The checksum of selection `key` when this process last saw it with this
 * fingerprint, with `entries` (this walk's, in the same order) given their
 * digests; `read` hashes the files whose digests could not be trusted
 * (their digest '' until then). `compute` makes the checksum of the
 * entries when such a file changed. Undefined when the selection is not
 * remembered with this fingerprint.
 */
export async function recentChecksum<E extends RecentEntry>(key: string, fingerprint: string, entries: E[], read: (files: E[]) => Promise<void>, compute: () => string): Promise<string | undefined> {
  const r = recent.get(key);
  if (!r || r.fingerprint !== fingerprint || r.digests.length !== entries.length) return undefined;
  for (let i = 0; i < entries.length; i++) entries[i]!.digest = r.digests[i]!;
  const racy = r.racy.map((i) => entries[i]!);
  for (const e of racy) e.digest = '';
  await read(racy);
  return r.racy.every((i) => entries[i]!.digest === r.digests[i]) ? r.checksum : compute();
}
