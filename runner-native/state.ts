// Per-run state on disk: <stateDir>/<id>/ holds run.json (who owns the run,
// which helper and cgroups it uses), the helper config and the /etc files.
// If tsbuild dies (kill -9), the kernel takes the container down (helper
// and init both have PDEATHSIG) and the mount namespace with it; what is
// left are the empty cgroup dirs and this dir, and cleanupStale removes
// them on the next start.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupHandleFor, killCgroup, removeCgroup } from './cgroup.js';

export interface RunRecord {
  id: string;
  ownerPid: number;
  /** start time of the owner, to tell it from a later process that got the same pid */
  ownerStartTime: string;
  helperPid?: number;
  helperStartTime?: string;
  /** relative cgroup path (see cgroup.ts), set before the cgroup is created */
  cgroupsPath?: string;
  /** where cgroupsPath is rooted when not /sys/fs/cgroup (a rootless run's delegated subtree) */
  cgroupRoot?: string;
}

const RECORD = 'run.json';
const TEMP_PREFIX = '.new-';
const ABANDONED_TEMP_MS = 10 * 60 * 1000;

/**
 * Field 22 of /proc/<pid>/stat (clock ticks since boot), or null if the
 * process is gone. A pid alone is not enough to recognise a process after a
 * crash (numbers are reused), so records store the pid with its start time.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and ')', so parse after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie is dead, just not reaped yet (orphans of a kill -9 can stay
    // zombies for a while when nobody reaps them).
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number | undefined, startTime: string | undefined): boolean {
  return pid !== undefined && startTime !== undefined && processStartTime(pid) === startTime;
}

/** Creates <stateDir>/<id> with its record in place, atomically (no half-made run dir is ever visible). */
// Synchronous: four small metadata calls, where each threadpool round trip
// would sit on the RUN's critical path.
export async function createRunDir(stateDir: string, record: RunRecord): Promise<string> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const temp = mkdtempSync(join(stateDir, TEMP_PREFIX));
  writeFileSync(join(temp, RECORD), JSON.stringify(record));
  const dir = join(stateDir, record.id);
  renameSync(temp, dir);
  return dir;
}

export async function updateRunRecord(runDir: string, record: RunRecord): Promise<void> {
  const temp = join(runDir, `${RECORD}.tmp`);
  await writeFile(temp, JSON.stringify(record));
  await rename(temp, join(runDir, RECORD));
}

async function cleanupRun(dir: string, record: RunRecord): Promise<void> {
  if (record.helperPid !== undefined && isAlive(record.helperPid, record.helperStartTime)) {
    try { process.kill(record.helperPid, 'SIGKILL'); } catch { /* gone meanwhile */ }
  }
  if (record.cgroupsPath) {
    const cgroup = cgroupHandleFor(record.cgroupsPath, record.cgroupRoot);
    await killCgroup(cgroup);
    await removeCgroup(cgroup);
  }
  await rm(dir, { recursive: true, force: true });
}

/**
 * Removes what runs of dead tsbuild processes left behind: their cgroups
 * (killing any process still in them) and their state dirs. Runs of live
 * processes, including our own, are left alone. Returns the cleaned run ids.
 */
export async function cleanupStale(stateDir: string): Promise<string[]> {
  // Listed synchronously: a few entries at most, and the first RUN of a
  // build waits for this; an async readdir queued behind the build's
  // layer writes on the threadpool (milliseconds on a loaded machine).
  const entries = listOrEmpty(stateDir);
  if (entries.length === 0) return [];
  const cleaned: string[] = [];
  for (const name of entries) {
    const dir = join(stateDir, name);
    if (name.startsWith(TEMP_PREFIX)) {
      const age = Date.now() - (await stat(dir).then((s) => s.mtimeMs, () => Date.now()));
      if (age > ABANDONED_TEMP_MS) await rm(dir, { recursive: true, force: true });
      continue;
    }
    let record: RunRecord;
    try {
      record = JSON.parse(await readFile(join(dir, RECORD), 'utf8')) as RunRecord;
    } catch {
      continue; // not ours, or unreadable: never delete what we cannot explain
    }
    if (isAlive(record.ownerPid, record.ownerStartTime)) continue;
    await cleanupRun(dir, record);
    cleaned.push(record.id);
  }
  return cleaned;
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
