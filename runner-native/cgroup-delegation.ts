// Rootless cgroup limits: a user may make cgroups only in a cgroup v2
// subtree delegated to them (systemd's user@UID.service with Delegate=yes:
// the user owns the directory and its files, and its cgroup.controllers
// lists the controllers to enable). tsbuild's own process must be inside
// that subtree: moving a process between cgroups needs write access to
// their common ancestor. Then runs get cgroups exactly as root's do (the
// same v2 code, cgroup.ts), rooted at the delegated directory instead of
// /sys/fs/cgroup; otherwise limits are not enforced, and `run` says so.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { CGROUP_ROOT, cgroupVersion } from './cgroup.js';

export type CgroupDelegation = { ok: true; dir: string; controllers: string[] } | { ok: false; reason: string };

export interface DelegationProbe {
  /** the text of /proc/self/cgroup */
  procSelfCgroup?: string;
  mount?: string;
  uid?: number;
}

const NEEDED = ['memory', 'pids'];

function ownedByUs(dir: string, uid: number): boolean {
  try {
    if (statSync(dir).uid !== uid) return false;
    accessSync(join(dir, 'cgroup.procs'), constants.W_OK);
    accessSync(join(dir, 'cgroup.subtree_control'), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The topmost cgroup v2 directory above (or at) our own that is delegated to us, or why there is none. */
export function findCgroupDelegation(probe: DelegationProbe = {}): CgroupDelegation {
  const mount = probe.mount ?? CGROUP_ROOT;
  const uid = probe.uid ?? process.getuid!();
  if (cgroupVersion(mount) !== 2) return { ok: false, reason: `${mount} is not a cgroup v2 hierarchy (limits rootless need cgroup v2 with a delegated subtree)` };
  let text = probe.procSelfCgroup;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/cgroup', 'utf8');
    } catch {
      return { ok: false, reason: 'cannot read /proc/self/cgroup' };
    }
  }
  const own = text.split('\n').find((l) => l.startsWith('0::'))?.slice(3).trim();
  if (!own) return { ok: false, reason: 'this process is in no cgroup v2 group' };
  let delegated: string | undefined;
  for (let p = own; p !== '/' && p !== '.' && p !== ''; p = posix.dirname(p)) {
    if (!ownedByUs(join(mount, p), uid)) break;
    delegated = join(mount, p);
  }
  if (!delegated) return { ok: false, reason: `cgroup ${own} is not delegated to this user (systemd: user@.service with Delegate=yes; log in through a systemd session or \`loginctl enable-linger\`)` };
  let available: string[];
  try {
    available = readFileSync(join(delegated, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return { ok: false, reason: `cannot read ${delegated}/cgroup.controllers` };
  }
  const missing = NEEDED.filter((c) => !available.includes(c));
  if (missing.length > 0) return { ok: false, reason: `the delegated cgroup ${delegated} lacks the ${missing.join(' and ')} controller${missing.length > 1 ? 's' : ''} (systemd: Delegate=memory pids cpu)` };
  // A cgroup with processes of its own cannot enable controllers for children.
  const enabled = readFileSync(join(delegated, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
  const busy = readFileSync(join(delegated, 'cgroup.procs'), 'utf8').trim() !== '';
  if (busy && NEEDED.some((c) => !enabled.includes(c))) return { ok: false, reason: `the delegated cgroup ${delegated} holds processes itself, so it cannot enable memory and pids for child cgroups` };
  return { ok: true, dir: delegated, controllers: available.filter((c) => ['memory', 'pids', 'cpu'].includes(c)) };
}

let cached: CgroupDelegation | undefined;

/** findCgroupDelegation() for this process, looked up once. */
export function cgroupDelegation(): CgroupDelegation {
  cached ??= findCgroupDelegation();
  return cached;
}
