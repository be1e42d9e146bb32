// A long-lived helper process talked to over socket pairs (the fsop helper):
// started by the native addon as posix_spawn starts a program, copying
// nothing of this process (runner-native/addon/spawn.c), or by
// child_process where the addon was not built (a fork: 2-3 ms of this
// thread for a build's ~60 MB).
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { signalName } from './helper-status.js';
import { nativeAddon } from './native-addon.js';

export interface HelperEnd {
  /** An error starting it (ENOENT: no such program), or its exit code or signal. */
  error?: NodeJS.ErrnoException;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface HelperProcess {
  /** 0 when it could not be started */
  readonly pid: number;
  /** Our end of each of its fds 0, 1, ... (fd 0's only written to). */
  readonly stdio: Socket[];
  /** Called once, when it ended or could not start. */
  onEnd(listener: (end: HelperEnd) => void): void;
  /** Whether it (and its fds 0-2's sockets) keep this process's event loop alive; the other sockets are their users' to ref. */
  ref(): void;
  unref(): void;
}

export function spawnHelperProcess(file: string, args: readonly string[], sockets: number): HelperProcess {
  const addon = nativeAddon();
  if (addon) {
    try {
      const [pid, ...fds] = addon.spawn([file, ...args], sockets);
      return new SpawnedHelper(pid!, fds);
    } catch {
      // child_process tries again, and reports the error its way
    }
  }
  return forkedHelper(file, args, sockets);
}

class SpawnedHelper implements HelperProcess {
  readonly stdio: Socket[];
  private ended: HelperEnd | undefined;
  private readonly listeners: ((end: HelperEnd) => void)[] = [];

  constructor(readonly pid: number, fds: readonly number[]) {
    this.stdio = fds.map((fd, i) => new Socket({ fd, readable: i > 0, writable: true }));
    // Its stdout ends as it exits (or it closed it, and will): then it is reaped.
    this.stdio[1]!.once('close', () => this.reap(1));
  }

  onEnd(listener: (end: HelperEnd) => void): void {
    if (this.ended) listener(this.ended);
    else this.listeners.push(listener);
  }

  ref(): void {
    for (const s of this.stdio.slice(0, 3)) s.ref();
  }

  unref(): void {
    for (const s of this.stdio.slice(0, 3)) s.unref();
  }

  private reap(waitMs: number): void {
    const status = nativeAddon()!.reap(this.pid);
    if (!status) {
      setTimeout(() => this.reap(Math.min(waitMs * 2, 1000)), waitMs).unref();
      return;
    }
    const [code, signal] = status;
    this.ended = { code: code >= 0 ? code : null, signal: signal > 0 ? signalName(signal) : null };
    for (const l of this.listeners.splice(0)) l(this.ended);
  }
}

function forkedHelper(file: string, args: readonly string[], sockets: number): HelperProcess {
  const child = spawn(file, args, { stdio: Array.from({ length: sockets }, () => 'pipe' as const) });
  // 'pipe' on every fd: each is a socket.
  const stdio = child.stdio as unknown as Socket[];
  let ended: HelperEnd | undefined;
  const listeners: ((end: HelperEnd) => void)[] = [];
  const end = (e: HelperEnd) => {
    if (ended) return;
    ended = e;
    for (const l of listeners.splice(0)) l(e);
  };
  child.on('error', (error: NodeJS.ErrnoException) => end({ error, code: null, signal: null }));
  child.on('exit', (code, signal) => end({ code, signal }));
  return {
    get pid() {
      return child.pid ?? 0;
    },
    stdio,
    onEnd: (listener) => (ended ? listener(ended) : listeners.push(listener)),
    ref: () => {
      child.ref();
      for (const s of stdio.slice(0, 3)) s.ref();
    },
    unref: () => {
      child.unref();
      for (const s of stdio.slice(0, 3)) s.unref();
    },
  };
}
