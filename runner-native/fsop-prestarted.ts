// The fsop server that bin/tsbuild had the sandbox helper start before
// Node (helper/prestart.c): privateFsop() (fsop.ts) takes it as its own
// helper instead of spawning one, a fork of this whole process that would
// hold its only thread for milliseconds. It is taken only when it runs
// exactly as this process would start it (its command line is compared:
// same binary, owner, mounts and children) as our child; any other is let
// go, and ends as its stdin closes.
import { closeSync, fstatSync, readFileSync, realpathSync } from 'node:fs';
import { Socket } from 'node:net';

/** Where bin/tsbuild.js leaves TSBUILD_PRESTARTED_FSOP (taken out of the environment: no process of ours inherits it). */
export const PRESTARTED_FSOP = Symbol.for('tsbuild.prestartedFsop');

interface Prestarted {
  pid: number;
  /** our ends: its stdin, stdout, stderr, then its children's sockets */
  fds: number[];
}

/** The server as FsopHelper drives it (fsop.ts FsopProcess), when it is the one `args` would start. */
export function takePrestartedFsop(helperPath: string, args: readonly string[], sockets: number) {
  const found = described();
  // Descriptors of a server that is not our child may not be ours either: left alone.
  if (!found || !isChild(found.pid)) return undefined;
  if (found.fds.length !== sockets || !found.fds.every(isSocket) || !runs(found.pid, helperPath, args)) {
    for (const fd of found.fds) closeQuietly(fd);
    return undefined;
  }
  const stdio = found.fds.map((fd) => new Socket({ fd, readable: true, writable: true }));
  return {
    pid: found.pid,
    stdio,
    // Not a child process of Node's: its stdout closes when it ends.
    onEnd: (f: (why: string) => void) => { stdio[1]!.once('close', () => f('the fsop helper exited')); },
    // No process handle: its sockets alone keep Node running, or not (FsopHelper refs them).
    ref: () => undefined,
    unref: () => undefined,
  };
}

// "PID IN,OUT,ERR S0,S1,S2 EXE", once.
function described(): Prestarted | undefined {
  const holder = globalThis as Record<symbol, unknown>;
  const text = holder[PRESTARTED_FSOP];
  delete holder[PRESTARTED_FSOP];
  const m = typeof text === 'string' ? /^(\d+) (\d+(?:,\d+)*) (\d+(?:,\d+)*) \//.exec(text) : null;
  return m ? { pid: Number(m[1]), fds: `${m[2]},${m[3]}`.split(',').map(Number) } : undefined;
}

function isSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

function isChild(pid: number): boolean {
  try {
    // pid (comm) state ppid ...: the comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
  } catch {
    return false;
  }
}

// Its command line is the helper with `args`; the helper's path as the
// kernel resolved it (one that has not exec'd yet shows the prestart's).
function runs(pid: number, helperPath: string, args: readonly string[]): boolean {
  try {
    const real = realpathSync(helperPath);
    const expected = [real, ...args.map((a) => (a === helperPath ? real : a))];
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').slice(0, -1);
    return cmdline.length === expected.length && cmdline.every((a, i) => a === expected[i]);
  } catch {
    return false;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // not ours after all
  }
}
