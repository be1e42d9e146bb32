// Recording a local build's answer in the store's memo (memo/local-memo.ts),
// so that the next identical build is answered by the lean bundle
// (local-memo-entry.ts) without a build. Only a build that may be memoized
// (locallyMemoizable) and turned out store-only (BuildResult.storeOnlyKeys)
// is recorded, with what it showed (the progress records a server would
// have sent) and the stats of the store it depends on (memo-checks.ts,
// with its rule on times too close to the build's start).
//
// The answer is filed under its context's digest, so the context's
// snapshot (remote/context-snapshot.ts) is brought up to date then: its
// stat check is how the next build knows the context is unchanged. The
// snapshot is opened before the build starts and saved with that time as
// its horizon: an entry changed while the build ran (or just before) is
// racy, so the snapshot cannot confirm it and the answer recorded under
// its digest is never used. Only store-only builds pay for this: a stat
// check while the context is as its snapshot says, a walk after it changed
// (the first no-op after an edit); cold and changed builds pay nothing.
import type { BuildResult, CliBuildRequest, ProgressEvent } from '../pipeline/options.js';
import type { ServerMessage } from '../remote/protocol.js';
import { buildManifest, contextIdOf, startContextCheck, type ContextCheck } from '../remote/context-manifest.js';
import { memoRequest } from '../remote/remote-request.js';
import { wireEvent } from '../remote/wire-event.js';
import { localMemoKey, locallyMemoizable, writeLocalMemo } from '../memo/local-memo.js';
import { memoChecksOf } from '../memo/memo-checks.js';
import { PersistentChecksumCache } from '../../cache/checksum-cache.js';
import { storePaths } from '../store/store-paths.js';

export interface MemoRecorder {
  /** Every progress event the build showed, in order. */
  onEvent(e: ProgressEvent): void;
  /** After the build succeeded and its output was shown. */
  record(result: BuildResult): Promise<void>;
}

/** A recorder for a build that may be memoized, taken before it starts; undefined for any other. */
export function memoRecorder(req: CliBuildRequest, env: NodeJS.ProcessEnv): MemoRecorder | undefined {
  if (!locallyMemoizable(req, memoRequest(req, '', ''), env)) return undefined;
  const startedAt = Date.now();
  const { contextDir, dockerfilePath, storeRoot } = req.build;
  const check = startContextCheck(contextDir, dockerfilePath);
  // Step output only comes from a step that ran, and such a build is never
  // recorded: from then on its events (a cold build's logs) are not kept.
  let events: ProgressEvent[] | undefined = [];
  return {
    onEvent: (e) => {
      if (e.type === 'log') events = undefined;
      else events?.push(e);
    },
    record: async (result) => {
      const shown = events;
      if (!result.storeOnlyKeys || !shown) return;
      const digest = await contextDigest(storeRoot, contextDir, dockerfilePath, check);
      if (digest === undefined) return;
      const found = await memoChecksOf(storeRoot, { keys: result.storeOnlyKeys, manifestDigest: result.manifestDigest }, startedAt);
      const key = localMemoKey(storeRoot, memoRequest(req, contextIdOf(check.root), digest));
      if (!found || key === undefined) return;
      const messages: ServerMessage[] = [...shown.map((e): ServerMessage => ({ type: 'event', record: wireEvent(e) })), { type: 'result', exitCode: 0, imageId: result.imageId }];
      writeLocalMemo(storeRoot, key, { messages, ...found });
    },
  };
}

/**
 * The digest of the context the build read, as its snapshot will confirm
 * it to the next build; undefined when it cannot (changed while the build
 * ran). One walk of the context against the snapshot opened before the
 * build (`before`, whose time is the horizon of what the saved snapshot
 * trusts): a context as its snapshot says is confirmed by the walk's
 * lstats, nothing read or hashed; a changed one has its changed files
 * hashed and its snapshot saved. No separate stat check first: the lean
 * start just found the snapshot stale or absent (the usual reason this
 * build ran), so a check would only add its own pass (and the native
 * one's process start) before the walk.
 *
 * A context seen for the first time takes its files' digests from the
 * store's checksum table when their stat identity is the one the build
 * hashed: the first no-op after a cold build of a 40 MB context would
 * otherwise read and hash all of it again.
 */
async function contextDigest(storeRoot: string, contextDir: string, dockerfilePath: string | undefined, before: ContextCheck): Promise<string | undefined> {
  const walkNow: ContextCheck = { root: before.root, snapshot: before.snapshot, native: Promise.resolve(false) };
  const hashes = before.snapshot.digest === '' ? await PersistentChecksumCache.open(storePaths(storeRoot).checksums, contextDir) : undefined;
  const manifest = await buildManifest(contextDir, dockerfilePath, walkNow, hashes);
  // The snapshot as the next build will read it must confirm this very digest.
  const next = startContextCheck(contextDir, dockerfilePath).snapshot;
  return next.checkable && next.digest === manifest.digest ? manifest.digest : undefined;
}
