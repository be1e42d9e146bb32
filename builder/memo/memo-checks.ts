// What a memoizable build's answer depends on in the store, as stats taken
// when it is recorded (the rules are memo-rules.ts's): the image index,
// the record of the image it produced (its shard, or a version-1 index),
// each cache entry the build read and the directory holding it, and the
// blobs of that image.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ContentStore } from '../../cache/content-store.js';
import { ImageStore } from '../image/store.js';
import type { Digest } from '../../cache/digest.js';
import { resultEntryPath } from '../../cache/result-index.js';
import { storePaths } from '../store/store-paths.js';
import { stampedHere, stampsSoFar } from '../../cache/version-stamp.js';
import { identity, identityOf, RACY_MS, type CheckKind, type MemoEntry } from './memo-rules.js';

/** What a memoizable build tells once it succeeded. */
export interface StoreOnlyBuild {
  /** The cache keys it read (BuildResult.storeOnlyKeys). */
  keys: string[];
  manifestDigest: string;
}

/** A build whose answer may be recorded, as it starts: taken before it reads anything of the store (memoStart()). */
export interface MemoStart {
  /** Date.now() then. */
  at: number;
  /** The image index's identity then (memo-rules.ts identity()). */
  index: string;
  /** The directory stamps this process had given then (cache/version-stamp.ts stampsSoFar()). */
  stamps: number;
}

/**
 * The image index a build reads is known by its identity as the build
 * starts: the one recorded must be that one. Every version of the index
 * has an identity of its own (a new inode, and a time stamped later than
 * the version it replaced: image/store.ts update()), so a version written
 * while the build ran, or renamed in after it started (a writer renames
 * the index in only once the image's blobs are durable, possibly long
 * after writing it), is told apart exactly, however recent; the index
 * needs no tick rule, and the recording does not wait for it to age.
 */
export function memoStart(root: string): MemoStart {
  const at = Date.now();
  return { at, index: identity(indexPathOf(root), 'file'), stamps: stampsSoFar() };
}

/**
 * The checks and cache entry files of a succeeded store-only build, or
 * undefined when the store did not hold still around it (a time within a
 * tick of its start, the image index replaced since) or something it made
 * is already gone.
 */
export async function memoChecksOf(root: string, build: StoreOnlyBuild, start: MemoStart): Promise<Omit<MemoEntry, 'messages'> | undefined> {
  const startedAt = start.at;
  const paths = storePaths(root);
  const content = new ContentStore(paths.content);
  const manifestPath = content.path(build.manifestDigest as Digest);
  // Synchronous, as the stats below: a manifest is a few hundred bytes, its read's threadpool round trips a fraction of a millisecond.
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { config?: { digest?: string }; layers?: { digest?: string }[] };
  const blobs = [manifest.config?.digest, ...(manifest.layers ?? []).map((l) => l.digest)];
  if (blobs.some((d) => typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d))) return undefined;
  const entryFiles = build.keys.map((k) => resultEntryPath(paths.cacheIndex, k));
  const wanted: [string, CheckKind][] = [
    [indexPathOf(root), 'file'],
    ...timedChecks(root, build.keys),
    ...entryFiles.map((f): [string, CheckKind] => [f, 'entry']),
    [manifestPath, 'blob'],
    ...blobs.map((d): [string, CheckKind] => [content.path(d as Digest), 'blob']),
  ];
  // The version its record was read from: one where the image is there.
  const record = await new ImageStore(root, content).recordVersion(build.manifestDigest as Digest);
  if (!record) return undefined;
  const checks: MemoEntry['checks'] = [{ path: record.path, kind: 'record', id: record.id }];
  for (const [p, kind] of wanted) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (kind === 'dir' && recent(p, st.mtimeMs, startedAt, start.stamps)) return undefined;
    const id = identityOf(st, kind);
    if (kind === 'file' && id !== start.index) return undefined;
    checks.push({ path: p, kind, id });
  }
  return { checks, entryFiles };
}

/**
 * The earliest moment a build that reads these cache keys may start for
 * its answer to be recorded: the newest time among the checks the tick
 * rule applies to (the directories of its cache entries), plus RACY_MS. A
 * build that wrote them waits this out before it is asked again
 * (cli/local-memo-record.ts).
 */
export function settledAt(root: string, keys: readonly string[]): number {
  let newest = -Infinity;
  for (const [p] of timedChecks(root, keys)) {
    const mtimeMs = statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? -Infinity;
    // Stamps given so far are all in place before the build that follows starts.
    if (!stampedHere(p, mtimeMs, stampsSoFar())) newest = Math.max(newest, mtimeMs);
  }
  return newest + RACY_MS;
}

/**
 * A directory time too close to a build's start for the tick rule; a
 * stamp this process gave it before the build started is exempt: the
 * build read the directory as that stamp left it, and every change after
 * gives it another time (cache/version-stamp.ts).
 */
function recent(dir: string, mtimeMs: number, startedAt: number, stamps: number): boolean {
  return mtimeMs > startedAt - RACY_MS && !stampedHere(dir, mtimeMs, stamps);
}

// The checks whose times the tick rule applies to: the directories holding the entries.
function timedChecks(root: string, keys: readonly string[]): [string, CheckKind][] {
  const paths = storePaths(root);
  const dirs = new Set(keys.map((k) => path.dirname(resultEntryPath(paths.cacheIndex, k))));
  return [...dirs].map((d): [string, CheckKind] => [d, 'dir']);
}

function indexPathOf(root: string): string {
  return path.join(storePaths(root).images, 'index.json');
}
