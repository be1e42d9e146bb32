// One cgroup per sandbox run: limits (memory, cpu, pids), OOM detection,
// and a reliable "kill everything" for cancellation. Created here, before
// the helper starts, and joined by the helper *before* the container runs
// anything, so limits hold from the first instruction.
// Supports cgroup v2 (unified) and v1 (memory, cpu, pids, devices hierarchies;
// v2's device rules are a BPF program the helper attaches);
// hybrid hosts use v1, where the controllers live.
//
// Every call on the cgroup file system is synchronous: each is a few
// microseconds of kernel bookkeeping, less than the threadpool round trip
// an async call costs, and a RUN makes about twenty of them.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxSetupError } from './errors.js';
import { v1RuleLine } from './device-rules.js';
import type { SandboxResources } from './spec.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
const V1_CONTROLLERS = ['memory', 'cpu', 'pids', 'devices'] as const;

export interface CgroupHandle {
  version: 1 | 2;
  /** every directory we created, one per v1 hierarchy or the single v2 one */
  dirs: string[];
  /** the files the helper writes the init pid into */
  procsFiles: string[];
  memoryDir: string | null;
}

export function cgroupVersion(root = CGROUP_ROOT): 1 | 2 | null {
  if (existsSync(join(root, 'cgroup.controllers'))) return 2;
  if (existsSync(join(root, 'memory', 'cgroup.procs')) || existsSync(join(root, 'pids', 'cgroup.procs'))) return 1;
  return null;
}

function checkRelative(relPath: string): string {
  const clean = relPath.replace(/^\/+/, '');
  if (!clean || clean.split('/').some((part) => part === '..' || part === '.')) {
    throw new SandboxSetupError(`bad cgroupsPath ${JSON.stringify(relPath)}`);
  }
  return clean;
}

function write(dir: string, file: string, value: string | number): void {
  writeRules(dir, [[file, String(value)]]);
}

/** Converts cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000), as runc does. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((Math.max(2, shares) - 2) * 9999) / 262142);
}

/** Where the cgroup of `relPath` lives (or would live) on this host; creates nothing. */
export function cgroupHandleFor(relPath: string, root = CGROUP_ROOT): CgroupHandle {
  const rel = checkRelative(relPath);
  const version = cgroupVersion(root);
  if (version === null) throw new SandboxSetupError(`no usable cgroup hierarchy under ${root}`);
  if (version === 2) {
    const dir = join(root, rel);
    return { version, dirs: [dir], procsFiles: [join(dir, 'cgroup.procs')], memoryDir: dir };
  }
  const mounted = V1_CONTROLLERS.filter((c) => existsSync(join(root, c, 'cgroup.procs')));
  const dirs = mounted.map((c) => join(root, c, rel));
  return {
    version, dirs, procsFiles: dirs.map((d) => join(d, 'cgroup.procs')),
    memoryDir: mounted.includes('memory') ? join(root, 'memory', rel) : null,
  };
}

async function createV1(root: string, rel: string, r: SandboxResources): Promise<CgroupHandle> {
  const handle = cgroupHandleFor(rel, root);
  const dirs: Record<string, string> = {};
  for (const controller of V1_CONTROLLERS) {
    const dir = join(root, controller, rel);
    if (!handle.dirs.includes(dir)) continue;
    mkdirSync(dir, { recursive: true });
    dirs[controller] = dir;
  }
  const need = (controller: string) => {
    const dir = dirs[controller];
    if (!dir) throw new SandboxSetupError(`a ${controller} limit was asked for but the ${controller} cgroup controller is not mounted`);
    return dir;
  };
  if (r.memory?.limit !== undefined) {
    write(need('memory'), 'memory.limit_in_bytes', r.memory.limit);
    if (r.memory.swap !== undefined && existsSync(join(dirs.memory!, 'memory.memsw.limit_in_bytes'))) {
      write(dirs.memory!, 'memory.memsw.limit_in_bytes', r.memory.swap);
    }
  }
  if (r.cpu?.period !== undefined) write(need('cpu'), 'cpu.cfs_period_us', r.cpu.period);
  if (r.cpu?.quota !== undefined) write(need('cpu'), 'cpu.cfs_quota_us', r.cpu.quota);
  if (r.cpu?.shares !== undefined) write(need('cpu'), 'cpu.shares', r.cpu.shares);
  if (r.pids?.limit !== undefined) write(need('pids'), 'pids.max', r.pids.limit);
  if (r.devices) {
    // one rule per write: the kernel parses a single rule each time
    const dir = dirs.devices;
    if (!dir) throw new SandboxSetupError('the devices cgroup controller is not mounted: device access cannot be confined (mount it, or use a cgroup v2 host)');
    writeRules(dir, r.devices.map((rule) => [rule.allow ? 'devices.allow' : 'devices.deny', v1RuleLine(rule)]));
  }
  return handle;
}

// In order, each file opened once: a RUN's default rules are ~14 writes,
// an open and a close each saved.
function writeRules(dir: string, rules: [file: string, line: string][]): void {
  const fds = new Map<string, number>();
  try {
    for (const [file, line] of rules) {
      try {
        let fd = fds.get(file);
        if (fd === undefined) fds.set(file, fd = openSync(join(dir, file), 'w'));
        writeSync(fd, line);
      } catch (err) {
        throw new SandboxSetupError(`cannot set ${file}=${line} in ${dir}: ${(err as Error).message}`);
      }
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
}

async function createV2(root: string, rel: string, r: SandboxResources): Promise<CgroupHandle> {
  // A v2 controller works in a cgroup only if every ancestor delegates it
  // through cgroup.subtree_control.
  const parts = rel.split('/');
  let current = root;
  for (const part of parts) {
    const available = readFileSync(join(current, 'cgroup.controllers'), 'utf8').split(/\s+/);
    const wanted = ['memory', 'cpu', 'pids'].filter((c) => available.includes(c)).map((c) => `+${c}`).join(' ');
    if (wanted) {
      try { writeFileSync(join(current, 'cgroup.subtree_control'), wanted); } catch { /* not ours to delegate: limits then fail below */ }
    }
    current = join(current, part);
    mkdirSync(current, { recursive: true });
  }
  const handle = cgroupHandleFor(rel, root);
  const dir = handle.dirs[0]!;
  if (r.memory?.limit !== undefined) {
    write(dir, 'memory.max', r.memory.limit);
    if (r.memory.swap !== undefined) {
      write(dir, 'memory.swap.max', r.memory.swap < 0 ? 'max' : Math.max(0, r.memory.swap - r.memory.limit));
    }
  }
  if (r.cpu?.quota !== undefined || r.cpu?.period !== undefined) {
    write(dir, 'cpu.max', `${r.cpu.quota !== undefined && r.cpu.quota > 0 ? r.cpu.quota : 'max'} ${r.cpu.period ?? 100000}`);
  }
  if (r.cpu?.shares !== undefined) write(dir, 'cpu.weight', sharesToWeight(r.cpu.shares));
  if (r.pids?.limit !== undefined) write(dir, 'pids.max', r.pids.limit);
  return handle;
}

export async function createCgroup(relPath: string, resources: SandboxResources = {}, root = CGROUP_ROOT): Promise<CgroupHandle> {
  const rel = checkRelative(relPath);
  const version = cgroupVersion(root);
  if (version === null) throw new SandboxSetupError(`no usable cgroup hierarchy under ${root}`);
  return version === 2 ? createV2(root, rel, resources) : createV1(root, rel, resources);
}

function counter(text: string, name: string): number | null {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/** True if the kernel's OOM killer killed a process of this cgroup. */
export async function wasOomKilled(h: CgroupHandle): Promise<boolean> {
  if (!h.memoryDir) return false;
  const file = h.version === 2 ? 'memory.events' : 'memory.oom_control';
  const text = readOr(join(h.memoryDir, file), '');
  const kills = counter(text, 'oom_kill');
  if (kills !== null) return kills > 0;
  // kernels before 4.13 have no oom_kill counter in v1: hitting the limit is the best hint
  const failcnt = readOr(join(h.memoryDir, 'memory.failcnt'), '0');
  return Number(failcnt.trim()) > 0;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function pidsIn(dir: string): number[] {
  return readOr(join(dir, 'cgroup.procs'), '').split('\n').filter(Boolean).map(Number);
}

/** SIGKILLs every process in the cgroup and waits until it is empty. */
export async function killCgroup(h: CgroupHandle): Promise<void> {
  if (h.version === 2 && existsSync(join(h.dirs[0]!, 'cgroup.kill'))) {
    try { writeFileSync(join(h.dirs[0]!, 'cgroup.kill'), '1'); } catch { /* swept below */ }
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    let any = false;
    for (const dir of h.dirs) {
      for (const pid of pidsIn(dir)) {
        any = true;
        try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    if (!any) return;
    await sleep(20);
  }
}

/** Removes the cgroup dirs; a just-killed task can keep a dir busy for a moment. */
export async function removeCgroup(h: CgroupHandle): Promise<void> {
  for (const dir of h.dirs) await removeCgroupDir(dir);
}

export async function removeCgroupDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 100) throw err;
      await sleep(20);
    }
  }
}
