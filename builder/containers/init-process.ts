// Finds the container's PID 1 (as a host pid) while Sandbox.run is running.
// Sandbox.run does not report the pid (see the report: an `onStart(pid)`
// callback in RunOptions would replace all of this), but we choose the
// cgroup path ourselves, and the helper puts the container init into that
// cgroup before it runs anything. The init is the member whose innermost
// pid (NSpid in /proc/<pid>/status) is 1; it has "started" once it has
// exec'd the command, i.e. /proc/<pid>/exe is no longer the helper binary
// (by then its namespaces, network included, are all set up).
import { realpathSync } from 'node:fs';
import { readdir, readFile, readlink, rmdir } from 'node:fs/promises';
import { defaultHelperPath, inUserNamespace } from '../../runner-native/index.js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CGROUP_ROOT = '/sys/fs/cgroup';
// v2 unified first, then the v1 hierarchies the sandbox uses
const HIERARCHIES = ['', 'pids', 'memory', 'cpu', 'devices'];

/** Host pids of every process in the container's cgroup. */
export async function cgroupMembers(cgroupsPath: string): Promise<number[]> {
  for (const h of HIERARCHIES) {
    const text = await readFile(join(CGROUP_ROOT, h, cgroupsPath, 'cgroup.procs'), 'utf8').catch(() => null);
    if (text !== null) return text.split('\n').filter(Boolean).map(Number);
  }
  // Rootless there is no cgroup of ours: the container is what runs below
  // this process's sandbox helper (one container per supervisor or run).
  return inUserNamespace() ? helperDescendants() : [];
}

async function helperDescendants(): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // the command name may hold spaces and parens: the ppid follows its last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const helper = realpathSync(defaultHelperPath());
  const found: number[] = [];
  const walk = (pid: number) => { for (const c of children.get(pid) ?? []) { found.push(c); walk(c); } };
  for (const pid of children.get(process.pid) ?? []) {
    if ((await readlink(`/proc/${pid}/exe`).catch(() => null)) === helper) walk(pid);
  }
  return found;
}

async function isNamespaceInit(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
  return nspid.length > 1 && nspid[nspid.length - 1] === '1';
}

/** Polls until the container's init has exec'd its command; undefined if `signal` fires first. */
export async function waitForContainerInit(cgroupsPath: string, helperPath: string, signal: AbortSignal): Promise<number | undefined> {
  let delay = 2;
  while (!signal.aborted) {
    const members = await cgroupMembers(cgroupsPath);
    let init: number | undefined;
    let execed = false;
    for (const pid of members) {
      if (await isNamespaceInit(pid)) init = pid;
      const exe = await readlink(`/proc/${pid}/exe`).catch(() => null);
      // with --init, PID 1 stays the helper's reaper and its child is the command
      if (exe !== null && exe !== helperPath) execed = true;
    }
    if (init !== undefined && execed) return init;
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  return undefined;
}

/** SIGKILLs every process left in the container's cgroup (the last resort for a lost container). */
export async function killCgroupMembers(cgroupsPath: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = await cgroupMembers(cgroupsPath);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await sleep(20);
  }
}

/**
 * Removes the container's (empty) cgroup dirs. Normally the sandbox does;
 * this is for a lost container whose owner died before it could.
 */
export async function removeCgroupDirs(cgroupsPath: string): Promise<void> {
  for (const h of HIERARCHIES) {
    const dir = join(CGROUP_ROOT, h, cgroupsPath);
    for (let attempt = 0; attempt < 50; attempt++) {
      const err = await rmdir(dir).then(() => null, (e: NodeJS.ErrnoException) => e);
      // ENOENT: not in this hierarchy (or gone); EBUSY: a killed task still leaving
      if (!err || err.code !== 'EBUSY') break;
      await sleep(20);
    }
  }
}
