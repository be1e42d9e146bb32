// Test support: what sandbox runs could leave behind on the host (mounts,
// cgroups, processes, state dirs), so tests can assert that they left
// nothing. Only runs of one Sandbox (its stateDir and cgroupParent) count,
// so test files running at the same time do not see each other's runs.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT } from '../cgroup.js';

export interface HostState {
  mounts: string[];
  cgroups: string[];
  processes: string[];
  stateEntries: string[];
}

export interface Watched {
  /** mounts whose mount point is under this dir count (every merged root of a test lives there) */
  base: string;
  helperPath: string;
  stateDir: string;
  cgroupParent: string;
}

function mountsUnder(base: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => {
    const fields = line.split(' ');
    return (fields[4] ?? '').startsWith(base);
  }).map((line) => line.split(' ').slice(4).join(' '));
}

function sandboxCgroups(parent: string): string[] {
  const found: string[] = [];
  for (const top of [CGROUP_ROOT, ...['memory', 'pids', 'cpu', 'devices', 'unified'].map((c) => join(CGROUP_ROOT, c))]) {
    const dir = join(top, parent);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) found.push(join(dir, entry.name));
    }
  }
  return found;
}

/** Processes in one of our cgroups, or helpers started with a config from our state dir. */
function sandboxProcesses(w: Watched): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const exe = readlinkSync(`/proc/${pid}/exe`);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const ours = cgroups.includes(`:/${w.cgroupParent}/`) || (exe === w.helperPath && cmdline.includes(w.stateDir));
      if (ours) found.push(`${pid} ${exe}`);
    } catch {
      // exited while we looked, or a kernel thread
    }
  }
  return found;
}

export function hostState(w: Watched): HostState {
  return {
    mounts: mountsUnder(w.base),
    cgroups: sandboxCgroups(w.cgroupParent),
    processes: sandboxProcesses(w),
    stateEntries: existsSync(w.stateDir) ? readdirSync(w.stateDir) : [],
  };
}

/** Entries of `after` that were not in `before`, per kind; empty lists mean nothing was left behind. */
export function newSince(before: HostState, after: HostState): HostState {
  const diff = (a: string[], b: string[]) => b.filter((x) => !a.includes(x));
  return {
    mounts: diff(before.mounts, after.mounts),
    cgroups: diff(before.cgroups, after.cgroups),
    processes: diff(before.processes, after.processes),
    stateEntries: diff(before.stateEntries, after.stateEntries),
  };
}

/** Removes the (empty) cgroup parent dirs a test created. */
export function removeCgroupParent(parent: string): void {
  // Every hierarchy mounted here: an OCI runtime (runc, crun) makes the
  // parent in each of them, the named systemd one and cpuacct, blkio,
  // freezer... included, not only in those tsbuild's own sandbox uses.
  const hierarchies = readdirSync(CGROUP_ROOT, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(CGROUP_ROOT, d.name));
  for (const top of [CGROUP_ROOT, ...hierarchies]) {
    const dir = join(top, parent);
    try { if (existsSync(dir)) rmdirSync(dir); } catch { /* not empty or gone */ }
  }
}
