// Is a recorded process still the one we recorded? A pid alone is not
// enough: after a crash the number may belong to someone else, so every
// pid we store comes with its start time (field 22 of /proc/<pid>/stat).
import { readFileSync } from 'node:fs';

export interface ProcessRef {
  pid: number;
  startTime: string;
}

/** Start time of a live process; null when it is gone or a zombie (dead, just not yet reaped). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and ')': parse after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // an orphaned supervisor killed with -9 can stay a zombie for a while
    // when nobody reaps orphans (containers without an init): it is dead all the same
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function refOf(pid: number): ProcessRef | undefined {
  const startTime = processStartTime(pid);
  return startTime === null ? undefined : { pid, startTime };
}

export function isAlive(ref: ProcessRef | undefined): boolean {
  return ref !== undefined && processStartTime(ref.pid) === ref.startTime;
}

/** Sends a signal only if the process is still the recorded one; false when it is gone. */
export function signalIfAlive(ref: ProcessRef | undefined, signal: NodeJS.Signals | number): boolean {
  if (!isAlive(ref)) return false;
  try {
    process.kill(ref!.pid, signal);
    return true;
  } catch {
    return false;
  }
}
