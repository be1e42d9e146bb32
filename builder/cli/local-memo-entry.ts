// A local `tsbuild build` answered from the memo in the store
// (memo/local-memo.ts), from the lean bundle, before the full CLI is read:
// a no-op rebuild whose context, request and store are as an earlier
// identical build left them shows that build's progress and result again
// and exits, without the solver, the store's code or the sandbox. The
// context is confirmed unchanged by its snapshot's stat check (the remote
// client's, remote/context-check.ts), the store by the answer's stats.
//
// Undefined on any miss, doubt or error, before anything was shown: the
// launcher then runs the full CLI with the same arguments, which builds
// as it always did (and records the answer when the build may be). A
// build that reads stdin, fetches its context, or names anything outside
// the context and the store is never looked up.
import { fstatSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs, getBool, getList, getString } from './args.js';
import { BUILD_FLAGS, mayBeRemoteContext, toBuildOptions } from './build-request.js';
import type { CliBuildRequest } from '../pipeline/options.js';
import { startContextCheck, type ContextCheck } from '../remote/context-check.js';
import { publishPrestat } from '../context/prestat.js';
import { nativeStatCheck } from '../remote/native-stat-check.js';
import { contextIdOf } from '../remote/context-ids.js';
import { memoRequest } from '../remote/remote-request.js';
import { localMemoKey, locallyMemoizable, memoDisabled, readLocalMemo } from '../memo/local-memo.js';
import { checksHold, touchEntries } from '../memo/memo-rules.js';
import { reportError } from './report-error.js';
import { resolveProgressMode } from '../progress/mode.js';
import type { ProgressStream } from '../progress/types.js';
import type { ServerMessage } from '../remote/protocol.js';
import { eventOf } from '../remote/wire-event.js';

/** Set: a build answered from the memo says so on stderr (tests, troubleshooting). */
const DEBUG_ENV = 'TSBUILD_MEMO_DEBUG';

/**
 * A build to make of a context this store's memo has seen before (a
 * rebuild after an edit, most likely): it runs other functions than a first
 * build, and the launcher gives it a code cache of its own.
 */
export const REBUILD = 'rebuild';

/** The exit code of a build answered from the memo; undefined or REBUILD: build it. */
export async function answerFromLocalMemo(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number | typeof REBUILD | undefined> {
  if (argv[0] !== 'build' || memoDisabled(env)) return undefined;
  const req = readRequest(argv.slice(1), env);
  if (!req) return undefined;
  const { contextDir, dockerfilePath, storeRoot } = req.build;
  // Before the (digest-less) request is made: a build that may not be memoized never starts the check.
  if (!locallyMemoizable(req, memoRequest(req, '', ''), env)) return undefined;
  // A changed context's lstats, as the native check took them, go to the build that follows (prestat.ts).
  const check: ContextCheck = startContextCheck(contextDir, dockerfilePath, (fd) => nativeStatCheck(fd, (nums, takenAt) => publishPrestat({ root: check.root, takenAt, names: check.snapshot.names, nums })));
  const digest = check.snapshot.digest;
  if (digest === '' || !check.snapshot.checkable) return undefined;
  // A small context is checked here, first: an edited one (the usual miss) reads no answer.
  if (!check.native && !check.snapshot.unchangedOnDisk()) return REBUILD;
  // While a native check runs: the answer and the store's stats.
  const key = localMemoKey(storeRoot, memoRequest(req, contextIdOf(check.root), digest));
  const entry = key === undefined ? undefined : readLocalMemo(storeRoot, key);
  if (!entry || !checksHold(entry.checks)) return REBUILD;
  // Unchanged by stats alone: a context whose listing changed at all is walked by the full build.
  if (check.native && !((await check.native) ?? check.snapshot.unchangedOnDisk())) return REBUILD;
  if (env[DEBUG_ENV]) writeAll(2, 'tsbuild: answered from the local memo of an identical build\n');
  try {
    await replay(req, entry.messages);
  } catch (err) {
    // Shown already: the full CLI would show it twice. As a build failing after its steps (an --iidfile that cannot be written).
    return reportError(err);
  }
  touchEntries(entry.entryFiles);
  return 0;
}

/**
 * Shows a recorded answer as the full CLI shows a build (build-runner.ts):
 * its progress, --iidfile, then the image id for -q. Written straight to
 * the descriptors, and with only the writer the mode needs: Node's
 * process.stdout and stderr, the live view's colours and the remote
 * client's stream handling cost more to set up than the rest of an answer.
 */
async function replay(req: CliBuildRequest, messages: ServerMessage[]): Promise<void> {
  const result = messages[messages.length - 1] as Extract<ServerMessage, { type: 'result' }>;
  const stderr: ProgressStream = { isTTY: isTerminal(2), write: (text, done) => (writeAll(2, text), done?.(), true) };
  const mode = resolveProgressMode(req.progress, stderr);
  const progress = mode === 'plain' ? new (await import('../progress/plain.js')).PlainProgressWriter(stderr)
    : mode === 'quiet' ? new (await import('../progress/quiet.js')).QuietProgressWriter(stderr)
    : mode === 'rawjson' ? new (await import('../progress/rawjson.js')).RawJsonProgressWriter(stderr)
    // A terminal's live view sizes itself from the real stream.
    : new (await import('../progress/tty.js')).TtyProgressWriter(process.stderr);
  for (const m of messages) if (m.type === 'event') progress.onProgress?.(eventOf(m.record));
  if (req.iidFile && result.imageId) writeFileSync(req.iidFile, result.imageId);
  await progress.close({ ok: true });
  if (req.progress === 'quiet' && result.imageId) writeAll(1, result.imageId + '\n');
}

/**
 * isatty(), with node:tty (and the net and stream modules it loads, ~2 ms)
 * only for a character device: a pipe or a file, where CI sends the
 * output, is no terminal.
 */
function isTerminal(fd: number): boolean {
  return fstatSync(fd).isCharacterDevice() && (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}

/** All of `text` to a descriptor, waiting out a full pipe that another process made non-blocking. */
function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

// The build's flags, read as the full CLI reads them, or undefined for a
// build that is not looked up: stdin, a URL or git context, --help, or
// flags the full CLI will report.
function readRequest(args: string[], env: NodeJS.ProcessEnv): CliBuildRequest | undefined {
  try {
    const a = parseArgs(args, BUILD_FLAGS);
    if (getBool(a, 'help') || a.positionals.length !== 1 || getString(a, 'file') === '-') return undefined;
    if (getList(a, 'secret').length > 0 || getList(a, 'ssh').length > 0 || getList(a, 'build-context').length > 0) return undefined;
    const contextArg = a.positionals[0]!;
    if (mayBeRemoteContext(contextArg)) return undefined;
    const req = toBuildOptions(args, env);
    return req === 'help' ? undefined : req;
  } catch {
    return undefined;
  }
}

