// The `docker run` flags that shape the sandbox's privileges and limits:
// --cap-add/--cap-drop, --privileged, --sysctl, --ulimit, --shm-size
// (--security-opt is security-options.ts). Applied to a spec made by
// defaultSpec, so docker's defaults hold for everything not asked for.
import {
  DOCKER_DEFAULT_CAPS, grantableCapabilities, highestMappedGid, inUserNamespace, type SandboxRlimit, type SandboxSpec,
} from '../../runner-native/index.js';
import { ContainerError } from './errors.js';
import { parseBytes } from './byte-size.js';

export interface PrivilegeOptions {
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  sysctls: Record<string, string>;
  ulimits: string[];
  shmSize?: string;
}

function invalid(message: string): ContainerError {
  return new ContainerError('INVALID_RUN_OPTION', message);
}

const capName = (c: string) => (c.toUpperCase() === 'ALL' ? 'ALL' : `CAP_${c.toUpperCase().replace(/^CAP_/, '')}`);

/** docker's rule: start from the default set (or all), drop, then add; ALL in either list means every capability. */
export function capabilitySet(add: string[], drop: string[], privileged: boolean): string[] {
  const all = grantableCapabilities();
  if (privileged) return all;
  const adds = add.map(capName);
  const drops = drop.map(capName);
  for (const c of [...adds, ...drops]) {
    if (c !== 'ALL' && !/^CAP_[A-Z_]+$/.test(c)) throw invalid(`unknown capability: "${c}"`);
  }
  let caps = drops.includes('ALL') ? [] : DOCKER_DEFAULT_CAPS.filter((c) => !drops.includes(c));
  caps = adds.includes('ALL') ? [...all] : [...new Set([...caps, ...adds])];
  return caps;
}

const ULIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

/** `--ulimit nofile=1024:2048` (soft:hard; one number sets both; -1 is unlimited). */
export function parseUlimit(text: string): SandboxRlimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(text);
  const type = m ? ULIMITS[m[1]!] : undefined;
  if (!m || !type) throw invalid(`invalid ulimit argument: ${text} (NAME=SOFT[:HARD], e.g. nofile=1024:2048)`);
  const num = (s: string) => (Number(s) < 0 ? 2 ** 64 - 1 : Number(s));
  const soft = num(m[2]!);
  const hard = num(m[3] ?? m[2]!);
  if (soft > hard) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { type, soft, hard };
}

export function parseSysctl(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw invalid(`invalid sysctl: '${text}' (KEY=VALUE)`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

export function applyPrivilegeOptions(spec: SandboxSpec, o: PrivilegeOptions, ownNetwork: boolean): void {
  const caps = capabilitySet(o.capAdd, o.capDrop, o.privileged);
  const p = spec.process;
  p.capabilities = p.user.uid === 0 ? { bounding: caps, effective: caps, permitted: caps } : { bounding: caps, effective: [], permitted: [] };
  if (o.privileged) {
    // docker --privileged: nothing hidden or read-only in /proc and /sys, no seccomp filter
    delete spec.linux.seccomp;
    spec.linux.maskedPaths = [];
    spec.linux.readonlyPaths = [];
    for (const m of spec.mounts) if (m.destination === '/sys') m.options = (m.options ?? []).filter((x) => x !== 'ro');
  }
  // as docker does in a container's own network namespace: any user may bind low ports and ping
  // (rootless: any group the user namespace maps, the kernel refuses more)
  const pingGroups = inUserNamespace() ? `0 ${highestMappedGid()}` : '0 2147483647';
  const sysctl: Record<string, string> = ownNetwork ? { 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.ping_group_range': pingGroups } : {};
  for (const [k, v] of Object.entries(o.sysctls)) {
    if (k.startsWith('net.') && !ownNetwork) throw invalid(`sysctl ${k} is not allowed in the host's network namespace`);
    sysctl[k] = v;
  }
  spec.linux.sysctl = sysctl;
  if (o.ulimits.length > 0) p.rlimits = o.ulimits.map(parseUlimit);
  if (o.shmSize !== undefined) {
    const bytes = parseBytes(o.shmSize);
    if (bytes <= 0) throw invalid(`invalid --shm-size: ${o.shmSize}`);
    const shm = spec.mounts.find((m) => m.destination === '/dev/shm');
    if (shm) shm.options = [...(shm.options ?? []).filter((x) => !x.startsWith('size=')), `size=${Math.floor(bytes / 1024)}k`];
  }
}
