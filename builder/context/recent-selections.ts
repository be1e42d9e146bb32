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
}

// A few selections: the whole context, and a build's other COPYs of it.
const recent = new LruMap<string, Recent>(4);

/** Remembers a selection just checksummed; `walkStartedAt`: Date.now() taken before its walk's first lstat. */
export function rememberRecent(key: string, fingerprint: string, checksum: string, entries: readonly RecentEntry[], walkStartedAt: number): void {
  if (entries.length > RECENT_MAX_ENTRIES) {
    recent.delete(key);
    return;
  }
  const racy: number[] = [];
  const digests = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    digests[i] = e.digest;
    if (e.type === 'file' && walkStartedAt <= untrustedUntil(e.mtimeMs, e.ctimeMs)) racy.push(i);
  }
  recent.set(key, { fingerprint, checksum, digests, racy });
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
