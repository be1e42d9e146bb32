// Is a recorded process still the one we recorded? A pid alone is not
// enough: after a crash the number may belong to someone else, so every
// pid we store comes with its start time (field 22 of /proc/<pid>/stat).
import { processStartTime } from '../../runner-native/index.js';

export { processStartTime };

export interface ProcessRef {
  pid: number;
  startTime: string;
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
