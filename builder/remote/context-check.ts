// The first thing a remote build does: open the snapshot its context had
// at the last build (context-snapshot.ts) and start the native check of
// it in another process (native-stat-check.ts), which lstats the context
// while this one goes on. Apart from the walk (context-manifest.ts) and
// its modules, so that the check starts as early as it can.
import os from 'node:os';
import path from 'node:path';
import { ContextSnapshot } from './context-snapshot.js';

function snapshotDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tsbuild', 'contexts');
}

/**
 * Below this many entries the check runs here: one lstat costs ~3 µs, and
 * starting the native check's process costs this one ~2 ms before it has
 * checked anything.
 */
const NATIVE_FROM_ROWS = 500;

/** The snapshot of a context, opened before the walk, and the native check of it when one runs. */
export interface ContextCheck {
  readonly root: string;
  readonly snapshot: ContextSnapshot;
  /** The native check's answer (true: unchanged), undefined without one. */
  readonly native?: Promise<boolean | undefined>;
}

/** Opens the context's snapshot and, when it can answer, starts the native check of it (on the snapshot's open file) in the background. */
export function startContextCheck(contextDir: string, dockerfilePath: string | undefined, native?: (snapshotFd: number) => Promise<boolean | undefined>, nativeFromRows = NATIVE_FROM_ROWS): ContextCheck {
  const root = path.resolve(contextDir);
  let answer: Promise<boolean | undefined> | undefined;
  const snapshot = ContextSnapshot.open(snapshotDir(), root, dockerfilePath, native && ((fd, rows) => void (answer = rows >= nativeFromRows ? native(fd) : undefined)));
  // Started on the file's flag alone: the answer counts only for a snapshot this process trusts as well.
  return { root, snapshot, native: snapshot.checkable ? answer : undefined };
}

