// Version stamps: modification times that a writer sets itself, so that
// every version of a file or directory has a time of its own. The kernel
// stamps a change with its coarse clock's time, which two changes made
// within one tick (4-10 ms) share, so a stat cannot tell them apart; the
// build memo (builder/memo/) had to wait a tick out after a build's last
// write before it could record what the build read. A stamp is later than
// the time it replaces by two microseconds: Node's utimes takes seconds as
// a double (~0.24 µs apart today) and libuv keeps whole microseconds of
// them, so one microsecond more could round back down to the time it
// replaces. A writer that stamps after each change it makes gives every
// version a distinct time.
import { futimesSync, statSync, utimesSync } from 'node:fs';

const STEP_MS = 0.002;

/**
 * Which version of a file that is only ever replaced by a rename (the
 * image index) this stat shows: each version is a new inode with a time
 * stamped later than the one it replaced.
 */
export function fileVersion(st: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** The stamp for the next version of `file` (ms): now, but later than its current time. */
export function stampAfter(file: string): number {
  const previous = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -Infinity;
  return Math.max(Date.now(), previous + STEP_MS);
}

/** Sets an open file's times to `mtimeMs` (stampAfter()): before its fsync, so the stamp is as durable as the data. */
export function stampOpenFile(fd: number, mtimeMs: number): void {
  futimesSync(fd, mtimeMs / 1000, mtimeMs / 1000);
}

// The stamps this process gave directories, as stat reads them back, each
// with its place in the order this process stamped them.
const stamped = new Map<string, { mtimeMs: number; order: number }>();
let stamps = 0;

/**
 * Stamps a directory this process just changed (an entry renamed in), and
 * remembers the stamp. Best effort: a directory it may not stamp keeps the
 * kernel's time, and is then treated as any other (stampedHere() is false).
 */
export function stampDirectory(dir: string): void {
  try {
    const at = stampAfter(dir) / 1000;
    utimesSync(dir, at, at);
    stamped.set(dir, { mtimeMs: statSync(dir).mtimeMs, order: ++stamps });
  } catch {
    stamped.delete(dir);
  }
}

/** How many stamps this process has given so far: what stampedHere() takes as `upTo`. */
export function stampsSoFar(): number {
  return stamps;
}

/**
 * Whether `mtimeMs`, a time of `dir` just read, is the stamp this process
 * gave it last, among its first `upTo` stamps: nothing has changed the
 * directory since that stamp, which was in place when stampsSoFar() said
 * `upTo` (any change after it would have put the kernel's coarse time
 * there, or a later stamp). A server's concurrent builds stamp in one
 * process: one that stamped after a build's start is not that build's.
 */
export function stampedHere(dir: string, mtimeMs: number, upTo: number): boolean {
  const s = stamped.get(dir);
  return s !== undefined && s.mtimeMs === mtimeMs && s.order <= upTo;
}
