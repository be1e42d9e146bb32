// A sandbox helper started ahead of its RUN, waiting for its config
// (`tsbuild-sandbox --config-on-stdin`, helper/main.c): the fsop helper
// starts one for a build that will run a RUN as it starts itself
// (fsop-children.c), while the build still hashes and copies files. A
// helper spawned by this process at the RUN is a fork of the whole Node
// process, which blocks its only thread for ~1 ms plus ~0.035 ms per MB of
// its memory (2-3 ms for a build), on the RUN's critical path.
//
// Only for what the build's RUN asks of a helper: no input, output to
// callbacks, no terminal. Its parent is the fsop helper, so the config's
// owner is that pid; it dies with the fsop helper (PDEATHSIG) as that one
// dies with tsbuild.
import type { Socket } from 'node:net';
import { defaultHelperPath } from './availability.js';
import { killFsopChild, takePrivateFsopChild, type FsopChild, type FsopChildSpec } from './fsop.js';
import type { RunOptions } from './runtime.js';

const KEY = 'sandbox';

/** What the fsop helper starts for a build that will run a RUN (FsopChildSpec). */
export function sandboxHelperChild(): FsopChildSpec {
  // stdin (the config's path) and the status channel (fd 3) on one socket, stdout, stderr
  return { key: KEY, args: [defaultHelperPath(), '--config-on-stdin'], fds: [0, 1, 2, 0] };
}

export interface WaitingHelper {
  pid: number;
  /** the config's owner_pid: the helper checks its parent is this one */
  parentPid: number;
  child: FsopChild;
}

/**
 * The waiting helper, when there is one and this run can use it (taken:
 * the next run spawns its own). Its config's path goes to it as one line.
 */
export async function takeWaitingHelper(helperPath: string, configPath: string, opts: RunOptions): Promise<WaitingHelper | undefined> {
  const plainOutput = (t: RunOptions['stdout']) => t === undefined || t === 'ignore' || typeof t === 'function';
  if (helperPath !== defaultHelperPath() || configPath.includes('\n') || (opts.stdin ?? 'ignore') !== 'ignore' || opts.resize !== undefined
    || !plainOutput(opts.stdout) || !plainOutput(opts.stderr)) return undefined;
  const child = takePrivateFsopChild(KEY);
  if (!child) return undefined;
  const pid = await child.pid;
  if (pid !== 0 && child.stdio.every((s) => !s.destroyed && !s.readableEnded)) return { pid, parentPid: child.parentPid, child };
  for (const s of child.stdio) s.destroy();
  return undefined;
}

export interface WaitingRun {
  /** what the helper wrote on its status channel */
  status: Promise<string>;
  kill(): void;
}

/**
 * Hands the helper its config; `status` resolves once the helper and
 * everything that held its output ended (as a spawned child's 'close').
 */
export function startWaitingHelper(h: WaitingHelper, configPath: string, opts: RunOptions): WaitingRun {
  const [statusPipe, stdout, stderr] = h.child.stdio as [Socket, Socket, Socket];
  let statusText = '';
  let open = 3;
  let ended = false;
  const status = new Promise<string>((resolve) => {
    const closed = () => {
      if (--open > 0) return;
      ended = true;
      resolve(statusText);
    };
    statusPipe.setEncoding('utf8');
    statusPipe.on('data', (chunk: string) => { statusText += chunk; });
    for (const [stream, target] of [[stdout, opts.stdout], [stderr, opts.stderr]] as const) {
      if (typeof target === 'function') stream.on('data', (chunk: Buffer) => target(chunk));
      else stream.resume();
    }
    for (const s of [stdout, stderr, statusPipe]) {
      s.once('close', closed);
      // the run keeps this process alive, as a spawned helper's pipes do
      s.ref();
    }
  });
  // its stdin until it has read this line: it says nothing on that channel before
  statusPipe.write(`${configPath}\n`);
  return { status, kill: () => { if (!ended) killFsopChild(h.child, h.pid); } };
}
