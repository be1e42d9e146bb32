// What a build or a container could leave on the host: mounts under a
// directory, container cgroups, processes naming a store. Tests look here
// after the fact (the product never needs these).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Mount points at or under `dir` in this (host) mount namespace. */
export function mountsUnder(dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    // A bare prefix test would also take /tmp/x-abc for /tmp/x-a.
    .filter((mountPoint) => mountPoint !== '' && (mountPoint === base || mountPoint.startsWith(`${base}/`)));
}

/** cgroup dirs of containers whose id starts with `idPrefix`, in any hierarchy. */
export function containerCgroups(idPrefix: string): string[] {
  const found: string[] = [];
  for (const h of ['', 'pids', 'memory', 'cpu', 'devices']) {
    const parent = join('/sys/fs/cgroup', h, 'tsbuild');
    if (!existsSync(parent)) continue;
    for (const e of readdirSync(parent)) if (e.startsWith(`ctr-${idPrefix}`)) found.push(join(parent, e));
  }
  return found;
}

/** Processes whose command line mentions `text` (a store root: supervisors and forwarders carry it). */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text) && Number(pid) !== process.pid) found.push(`${pid} ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
