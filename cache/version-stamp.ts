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

/** The stamp for the next version of `file` (ms): now, but later than its current time. */
export function stampAfter(file: string): number {
  const previous = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -Infinity;
  return Math.max(Date.now(), previous + STEP_MS);
}

/** Sets an open file's times to `mtimeMs` (stampAfter()): before its fsync, so the stamp is as durable as the data. */
export function stampOpenFile(fd: number, mtimeMs: number): void {
  futimesSync(fd, mtimeMs / 1000, mtimeMs / 1000);
}

// The stamps this process gave directories, as stat reads them back.
const stamped = new Map<string, number>();

/**
 * Stamps a directory this process just changed (an entry renamed in), and
 * remembers the stamp. Best effort: a directory it may not stamp keeps the
 * kernel's time, and is then treated as any other (stampedHere() is false).
 */
export function stampDirectory(dir: string): void {
  try {
    const at = stampAfter(dir) / 1000;
    utimesSync(dir, at, at);
    stamped.set(dir, statSync(dir).mtimeMs);
  } catch {
    stamped.delete(dir);
  }
}

/**
 * Whether `mtimeMs`, a time of `dir` just read, is the stamp this process
 * gave it last: nothing has changed the directory since (any change since
 * would have put the kernel's coarse time there, or a later stamp).
 */
export function stampedHere(dir: string, mtimeMs: number): boolean {
  return stamped.get(dir) === mtimeMs;
}
