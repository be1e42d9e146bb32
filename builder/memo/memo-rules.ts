// The rules of a memo of whole build answers, shared by the server's
// in-memory memo (server/result-memo.ts) and the local CLI's memo in the
// store (local-memo.ts): which requests may be answered without a build,
// and how a recorded answer is found still valid. This file reads nothing
// of the store's code: the local CLI's lean bundle uses it before it knows
// whether the full builder is needed at all.
//
// Only what cannot depend on anything but the request and the store is
// recorded: a build whose steps all came from the local cache index and
// that fetched nothing (pipeline/store-only.ts), with outputs into the
// store only (no push, no streamed output, no cache export or import, no
// --pull, --no-cache, remote --build-context, provenance or
// --metadata-file, whose build ref is new each time).
//
// "Nothing it read changed" is checked with a few stats of what such a
// build reads, taken when it is recorded (memo-checks.ts) and compared on
// every use: the image index (tags, base images; replaced by rename on
// every change), the file holding the produced image's record (the same),
// each cache entry it used (its inode) and the directory holding it (an
// entry added, replaced or removed changes the directory's mtime), and the
// blobs of the image it produced. A tag, rmi, pull, prune
// or another build changing one of them, from any process on the store,
// changes a stat. Times the kernel stamps come from its coarse clock (a
// tick may be several ms), which two changes can share: a build is
// recorded only if the directories' times are older than the build's start
// by more than a tick, so a change made while it ran, or just before,
// cannot share a timestamp with the state it recorded. Exempt are the
// times tsbuild's writers stamp themselves (cache/version-stamp.ts), each
// later than the one it replaces: the image index's (every version), and a
// directory's when this very process stamped it after its last change (a
// build's own cache entries, recorded at once).
import { statSync, utimesSync } from 'node:fs';
import type { BuildRequest, ServerMessage } from '../remote/protocol.js';
import { fileVersion } from '../../cache/version-stamp.js';

/**
 * How much older than a build's start a time it depends on must be. File
 * times come from the kernel's coarse clock, which the timekeeping tick
 * moves every 1/HZ: 10 ms at HZ=100, the lowest rate Linux is built with
 * (4 ms at HZ=250), so a change made at time t (by the clock Date.now()
 * reads, the fine one) is stamped no earlier than t - 10 ms. Add
 * Date.now()'s truncation to whole milliseconds and a millisecond for a
 * tick served late. (A much later tick, a virtual CPU held for several
 * ticks, can lag it further; the times are a second guard there: a
 * replaced index file or cache entry also has a new inode.) Kernels with
 * multigrain timestamps (6.13+) stamp finer, but that is not relied upon.
 */
export const RACY_MS = 12;

export type CheckKind = 'file' | 'dir' | 'entry' | 'blob' | 'record';

export interface MemoCheck {
  path: string;
  kind: CheckKind;
  id: string;
}

/** A recorded answer and what it depends on. */
export interface MemoEntry {
  /** What the build showed, from its first progress record to its result, both included. */
  messages: ServerMessage[];
  checks: MemoCheck[];
  /** Touched on every use, as the build would have: the collector goes by their last use. */
  entryFiles: string[];
}

/** The default cache import and export a build gets besides its own flags (a server's settings; none locally). */
export interface MemoDefaults {
  cacheFrom: readonly unknown[];
  cacheTo: readonly unknown[];
}

/** Requests whose answer can only depend on the request and the store. */
export function memoizable(req: BuildRequest, defaults: MemoDefaults): boolean {
  const digestOnly = (c: Pick<BuildRequest, 'manifest' | 'manifestDelta'>) => c.manifest === undefined && c.manifestDelta === undefined;
  return req.call === 'build'
    && !req.noCache && req.noCacheFilter.length === 0 && !req.pull
    && !req.wantMetadata
    && req.outputs.every((o) => o.type === 'image' && !o.stream && o.attrs.every(([k, v]) => k !== 'push' || v === 'false'))
    && req.cacheFrom.length === 0 && req.cacheTo.length === 0
    && defaults.cacheFrom.length === 0 && defaults.cacheTo.length === 0
    && (req.buildContexts ?? []).length === 0
    && req.attestations === undefined
    // A client that sends a manifest has a changed context: it goes the whole way (and the server learns the manifest).
    && digestOnly(req) && (req.localContexts ?? []).every(digestOnly);
}

/** Every stat the answer depends on is as it was recorded. */
export function checksHold(checks: readonly MemoCheck[]): boolean {
  return checks.every((c) => identity(c.path, c.kind) === c.id);
}

/** Marks the cache entries used, as the build would have (best effort: an entry gone fails the next check anyway). */
export function touchEntries(entryFiles: readonly string[]): void {
  const now = new Date();
  for (const f of entryFiles) {
    try {
      utimesSync(f, now, now);
    } catch {
      // Not ours to change (another user's store), or gone.
    }
  }
}

export function identity(p: string, kind: CheckKind): string {
  const st = statSync(p, { throwIfNoEntry: false });
  return st ? identityOf(st, kind) : 'absent';
}

export function identityOf(st: { ino: number; size: number; mtimeMs: number; dev: number }, kind: CheckKind): string {
  switch (kind) {
    // Replaced by rename on every change: a new inode, and a new mtime.
    // A record's file (the image's shard) is one such, and its version is
    // the one its record was read from (memo-checks.ts).
    case 'file':
    case 'record': return fileVersion(st);
    case 'dir': return `${st.dev}:${st.ino}:${st.mtimeMs}`;
    // A cache entry's mtime is its last use (every build touches it): not a change.
    case 'entry': return `${st.dev}:${st.ino}:${st.size}`;
    // Content-addressed: being there is all that matters.
    case 'blob': return 'present';
  }
}
