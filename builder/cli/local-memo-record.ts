// Recording a local build's answer in the store's memo (memo/local-memo.ts),
// so that the next identical build is answered by the lean bundle
// (local-memo-entry.ts) without a build. Only a build that may be memoized
// (locallyMemoizable) is recorded, with what a no-op of it shows (the
// progress records a server would have sent) and the stats of the store
// it depends on (memo-checks.ts, with its rule on times too close to the
// build's start).
//
// A build that turned out store-only (BuildResult.storeOnlyKeys) is its
// own answer. A build that ran steps (a cold one, or one after an edit) is
// asked again once its output was shown: the same request, solved in this
// process against the store it just filled, silently, is what the next
// no-op would show; it must come out store-only, else nothing is
// recorded. The store's own writes could make that answer racy (the image
// index, the cache entries' directories, all just written); their version
// stamps (cache/version-stamp.ts) tell them apart from any later change,
// so it starts at once. A directory another writer changed last, too
// recently for the tick rule, is waited out (memo-checks.ts settledAt()),
// never more.
//
// The answer is filed under its context's digest, so the context's
// snapshot (remote/context-snapshot.ts) is brought up to date then: its
// stat check is how the next build knows the context is unchanged. The
// snapshot is opened before the solve whose answer is recorded starts and
// saved with that time as its horizon: an entry changed while it ran (or
// just before) is racy, so the snapshot cannot confirm it and the answer
// recorded under its digest is never used. So when an entry the build's
// own checksum walks saw is still that recent, nothing is recorded at all:
// the walk and the second solve would only end there (a one-file rebuild
// shorter than the racy margin, the edit made just before it).
import path from 'node:path';
import type { BuildIO, BuildResult, CliBuildRequest, ProgressEvent } from '../pipeline/options.js';
import type { ContextWalkEntry } from '../context/context.js';
import type { ContentHashCache } from '../context/checksum.js';
import type { ServerMessage } from '../remote/protocol.js';
import { buildManifest, manifestOfRows, rowsOfWalk, startContextCheck, statContextAround, type ContextCheck } from '../remote/context-manifest.js';
import type { SnapshotRow } from '../remote/context-snapshot.js';
import { untrustedUntil } from '../../cache/checksum-cache.js';
import { collectWhenBig } from './heap-growth.js';
import { contextIdOf } from '../remote/context-ids.js';
import { memoRequest } from '../remote/remote-request.js';
import { wireEvent } from '../remote/wire-event.js';
import { localMemoKey, locallyMemoizable, writeLocalMemo } from '../memo/local-memo.js';
import { memoChecksOf, memoStart, settledAt, type MemoStart } from '../memo/memo-checks.js';
import { RACY_MS } from '../memo/memo-rules.js';
import { PersistentChecksumCache } from '../../cache/checksum-cache.js';
import { storePaths } from '../store/store-paths.js';

/** Contexts of more entries are recorded by their first no-op, not by a second solve (see record()). */
export const SOLVE_AGAIN_MAX_ENTRIES = 20_000;

/** The same build again, its progress to `onEvent` only, its walks of the context to `onContextWalk`. */
export type SolveAgain = (io: Required<Pick<BuildIO, 'onEvent' | 'onContextWalk' | 'contextWalk'>>) => Promise<BuildResult>;

export interface MemoRecorder {
  /** Every progress event the build showed, in order. */
  onEvent(e: ProgressEvent): void;
  /** The build's walks of the context (BuildIO.onContextWalk). */
  onContextWalk(entries: readonly ContextWalkEntry[], whole: boolean): void;
  /** While a RUN's command runs (BuildIO.onIdle). */
  onIdle(): void;
  /** After the build succeeded and its output was shown; `again` asks the same build again when it ran steps. */
  record(result: BuildResult, again: SolveAgain): Promise<void>;
}

/** A recorder for a build that may be memoized, taken before it starts; undefined for any other. */
export function memoRecorder(req: CliBuildRequest, env: NodeJS.ProcessEnv): MemoRecorder | undefined {
  if (!locallyMemoizable(req, memoRequest(req, '', ''), env)) return undefined;
  const { contextDir, dockerfilePath, storeRoot } = req.build;
  const started = memoStart(storeRoot);
  const check = startContextCheck(contextDir, dockerfilePath);
  const events = new ShownEvents();
  let walksWhole = false;
  let walked = 0;
  // Until then a walk of the context cannot trust an entry the build read (context-snapshot.ts's racy rule).
  let untrusted = -Infinity;
  const tableOf = () => PersistentChecksumCache.open(storePaths(storeRoot).checksums, contextDir);
  // The digest of a walk of the context starting now (contextDigest()).
  const walkContext = () => contextDigest(contextDir, dockerfilePath, startContextCheck(contextDir, dockerfilePath), tableOf);
  // The walk of a context the build does not read whole, made while a RUN's
  // command runs (this thread only waits then) rather than after the build.
  // Not while an entry the build read is too recent for a walk starting now
  // to confirm (an edit saved just before the build): such a walk finds no
  // digest, and record() either gives up for the same reason or walks again.
  // Nor later in the build, once the entry is old enough: in bench project
  // a's one-file rebuild (RUNs shorter than that margin) such a walk held the
  // build's last steps back, 2.5-8 ms in four A/Bs, more than it saved.
  let earlyWalk: Promise<string | undefined> | undefined;
  return {
    onEvent: (e) => events.onEvent(e),
    onIdle: () => {
      if (earlyWalk || walksWhole || Date.now() <= untrusted) return;
      earlyWalk = walkContext().catch(() => undefined);
    },
    onContextWalk: (entries, whole) => {
      for (const e of entries) untrusted = Math.max(untrusted, untrustedUntil(e.mtimeMs, e.ctimeMs));
      if (!whole) return;
      walksWhole = true;
      walked = Math.max(walked, entries.length);
    },
    record: async (result, again) => {
      // The snapshot a walk starting now saves could not confirm the
      // context, so no answer could be filed under its digest. (One starting
      // later might; the recording does not wait the margin out.)
      if (Date.now() <= untrusted) return;
      if (isStoreOnly(result) && events.shown) {
        const digest = await contextDigest(contextDir, dockerfilePath, check, tableOf);
        return recordAnswer(req, { result, shown: events.shown, started, key: digest === undefined ? undefined : answerKey(req, digest) });
      }
      if (!result.cacheKeys) return;
      // A second solve (its walk of the context, its rows) piles onto what
      // a big build still holds: a 1 GB, 50,000-file COPY peaked ~20 MB
      // higher, at the edge of the 300 MB it is held to. Such a build's
      // first no-op records instead, at the memory a no-op needs.
      if (walked > SOLVE_AGAIN_MAX_ENTRIES) return;
      // A build that reads the whole context (COPY .) walks it again below:
      // the snapshot is made of that walk. Otherwise the context is walked
      // first: the walk made during a RUN, unless it could not confirm the
      // context (an entry changed too shortly before it), which one made
      // now may. It may predate steps of the build: the second solve below
      // reads the context again, and comes out store-only only if it is
      // still what the build read.
      const walkedFirst = walksWhole ? undefined : await earlyWalk ?? await walkContext();
      if (!walksWhole && walkedFirst === undefined) return;
      // Of the request and the context alone: made while the wait goes on.
      const keyFirst = walkedFirst === undefined ? undefined : answerKey(req, walkedFirst);
      const settled = settledAt(storeRoot, result.cacheKeys);
      // The store's writes are this process's, just made: a time further
      // ahead than the rule's margin is another clock's (a file system whose
      // server runs ahead), which no wait here could outlast in reason.
      if (settled - Date.now() > RACY_MS) return;
      await sleepUntil(settled);
      const againStart = memoStart(storeRoot);
      // Before the solve reads anything: the snapshot's horizon is its start.
      const againCheck = walksWhole ? startContextCheck(contextDir, dockerfilePath) : undefined;
      const around = againCheck && statContextAround(againCheck.root, dockerfilePath);
      const noOp = new ShownEvents();
      const seen: { walk?: readonly ContextWalkEntry[] } = {};
      const answer = await again({ onEvent: (e) => noOp.onEvent(e), onContextWalk: (walk, whole) => { if (whole) seen.walk = walk; }, contextWalk: 'reuse' });
      if (!isStoreOnly(answer) || !noOp.shown) return;
      // Its digests are filled in by now. The walk itself goes (unless it is
      // the build's own, kept: recent-selections.ts), with the rest of that
      // solve's garbage, before the snapshot is made.
      const rows: SnapshotRow[] | undefined = seen.walk && rowsOfWalk(seen.walk);
      delete seen.walk;
      collectWhenBig();
      const digest = walkedFirst ?? (rows && againCheck && around ? confirmed(contextDir, dockerfilePath, await manifestOfRows(againCheck, around, rows, tableOf)) : undefined);
      const key = walkedFirst === undefined ? digest && answerKey(req, digest) : keyFirst;
      await recordAnswer(req, { result: answer, shown: noOp.shown, started: againStart, key });
    },
  };
}

/**
 * The events of a build, kept while they may make an answer: step output
 * only comes from a step that ran, and such a build is never recorded, so
 * from then on its events (a cold build's logs) are not kept.
 */
class ShownEvents {
  shown: ProgressEvent[] | undefined = [];

  onEvent(e: ProgressEvent): void {
    if (e.type === 'log') this.shown = undefined;
    else this.shown?.push(e);
  }
}

interface Answer {
  /** A store-only build's result, and the events it showed. */
  result: BuildResult & { storeOnlyKeys: string[] };
  shown: ProgressEvent[];
  /** When that build started (memoStart()). */
  started: MemoStart;
  /** Its memo key (answerKey()); undefined when the context's snapshot cannot confirm its digest. */
  key: string | undefined;
}

/** The memo key of this request with the context's digest as its snapshot confirms it (contextDigest()). */
function answerKey(req: CliBuildRequest, digest: string): string | undefined {
  return localMemoKey(req.build.storeRoot, memoRequest(req, contextIdOf(path.resolve(req.build.contextDir)), digest));
}

async function recordAnswer(req: CliBuildRequest, a: Answer): Promise<void> {
  const { storeRoot } = req.build;
  if (a.key === undefined) return;
  const found = await memoChecksOf(storeRoot, { keys: a.result.storeOnlyKeys, manifestDigest: a.result.manifestDigest }, a.started);
  if (!found) return;
  const messages: ServerMessage[] = [...a.shown.map((e): ServerMessage => ({ type: 'event', record: wireEvent(e) })), { type: 'result', exitCode: 0, imageId: a.result.imageId }];
  writeLocalMemo(storeRoot, a.key, { messages, ...found });
}

function isStoreOnly(r: BuildResult): r is Answer['result'] {
  return r.storeOnlyKeys !== undefined;
}

// Until Date.now() reads `at` or later, as the solve's start (Date.now())
// must. A timer counts from the event loop's cached time, which may be
// behind this clock, so it can fire early: rather than a millisecond more
// on every wait, one that fired early waits again.
async function sleepUntil(at: number): Promise<void> {
  while (Date.now() < at) await new Promise((resolve) => setTimeout(resolve, Math.ceil(at - Date.now())));
}

/**
 * The digest of the context as its snapshot will confirm it to the next
 * build; undefined when it cannot (an entry changed since the snapshot's
 * horizon, or too shortly before). One walk of the context against the
 * snapshot `before` (opened before anything the recorded answer read:
 * its time is the horizon of what the saved snapshot trusts): a context
 * as its snapshot says is confirmed by the walk's lstats, nothing read or
 * hashed; a changed one has its changed files hashed and its snapshot
 * saved. No separate stat check first: the lean start just found the
 * snapshot stale or absent (the usual reason this build ran), so a check
 * would only add its own pass (and the native one's process start)
 * before the walk.
 *
 * A context seen for the first time takes its files' digests from the
 * store's checksum table when their stat identity is the one the build
 * hashed: the first no-op after a cold build of a 40 MB context would
 * otherwise read and hash all of it again.
 */
async function contextDigest(contextDir: string, dockerfilePath: string | undefined, before: ContextCheck, table: () => Promise<ContentHashCache>): Promise<string | undefined> {
  const walkNow: ContextCheck = { root: before.root, snapshot: before.snapshot, native: Promise.resolve(false) };
  const hashes = before.snapshot.digest === '' ? await table() : undefined;
  const manifest = await buildManifest(contextDir, dockerfilePath, walkNow, hashes);
  return confirmed(contextDir, dockerfilePath, manifest.digest);
}

/** The digest, when the snapshot as the next build will read it confirms this very digest. */
function confirmed(contextDir: string, dockerfilePath: string | undefined, digest: string): string | undefined {
  const next = startContextCheck(contextDir, dockerfilePath).snapshot;
  return next.checkable && next.digest === digest ? digest : undefined;
}
