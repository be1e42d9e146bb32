// What a memoizable build's answer depends on in the store, as stats taken
// when it is recorded (the rules are memo-rules.ts's): the image index,
// each cache entry the build read and the directory holding it, and the
// blobs of the image it produced.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { resultEntryPath } from '../../cache/result-index.js';
import { storePaths } from '../store/store-paths.js';
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
}

/**
 * The image index is replaced by rename, but its file's times are those of
 * its writing, and a writer renames it in only once the image's blobs are
 * durable (image/store.ts update()): possibly long after, while a build
 * that read the old file ran. Recorded afterwards, the new file's identity
 * would pass for what that build read, and its old time would pass the
 * tick rule. Its identity as the build started tells: a rename since has
 * put another inode there.
 */
export function memoStart(root: string): MemoStart {
  const at = Date.now();
  return { at, index: identity(indexPathOf(root), 'file') };
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
    ...timedChecks(root, build.keys),
    ...entryFiles.map((f): [string, CheckKind] => [f, 'entry']),
    [manifestPath, 'blob'],
    ...blobs.map((d): [string, CheckKind] => [content.path(d as Digest), 'blob']),
  ];
  const checks: MemoEntry['checks'] = [];
  for (const [p, kind] of wanted) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return undefined;
    if ((kind === 'file' || kind === 'dir') && st.mtimeMs > startedAt - RACY_MS) return undefined;
    const id = identityOf(st, kind);
    if (kind === 'file' && id !== start.index) return undefined;
    checks.push({ path: p, kind, id });
  }
  return { checks, entryFiles };
}

/**
 * The earliest moment a build that reads these cache keys may start for
 * its answer to be recorded: the newest time among the checks the tick
 * rule applies to, plus RACY_MS. A build that wrote them waits this out
 * before it is asked again (cli/local-memo-record.ts).
 */
export function settledAt(root: string, keys: readonly string[]): number {
  let newest = -Infinity;
  for (const [p] of timedChecks(root, keys)) newest = Math.max(newest, statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? -Infinity);
  return newest + RACY_MS;
}

// The checks whose times the tick rule applies to: the image index and the directories holding the entries.
function timedChecks(root: string, keys: readonly string[]): [string, CheckKind][] {
  const paths = storePaths(root);
  const dirs = new Set(keys.map((k) => path.dirname(resultEntryPath(paths.cacheIndex, k))));
  return [[indexPathOf(root), 'file'], ...[...dirs].map((d): [string, CheckKind] => [d, 'dir'])];
}

function indexPathOf(root: string): string {
  return path.join(storePaths(root).images, 'index.json');
}
