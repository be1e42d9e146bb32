// Pre-digests a SandboxSpec into the helper's line-based config: one
// record per line, TAB-separated fields, backslash-escaped. All policy
// (option parsing, capability numbers, default devices, overlay options)
// is decided here, where it is easy to unit-test; the C side only executes.
import { dirname, isAbsolute, relative } from 'node:path';
import { capabilityMask } from './capabilities.js';
import { deviceRulesOf, helperRuleFields } from './device-rules.js';
import { SandboxSpecError } from './errors.js';
import { parseMountOptions } from './mount-options.js';
import { seccompRecords } from './seccomp.js';
import type { OciSeccomp } from './seccomp.js';
import type { RootLayers, SandboxDevice, SandboxSpec } from './spec.js';

export interface HelperContext {
  /** The helper exits at once if its parent is no longer this pid (we died before it armed PDEATHSIG). */
  ownerPid: number;
  /** cgroup.procs files the helper writes the container init's pid into, before it runs anything. */
  cgroupProcs: string[];
  /** cgroup v2: the run's cgroup dir, where the helper attaches the device rules as a BPF program */
  deviceCgroupDir?: string;
  /** Where the helper keeps seccomp programs it compiled, by rules (helper/seccomp.c). */
  seccompCacheDir?: string;
}

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** runc's defaults: what a program may expect in any container's /dev. */
const DEFAULT_DEVICES: SandboxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
];

const DEV_SYMLINKS: [target: string, path: string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

// The kernel copies at most one page of mount data.
const MAX_MOUNT_DATA = 4000;

function escapeField(value: string): string {
  // Most fields (syscall names, paths) have nothing to escape: one test
  // instead of three replaces, for the ~2,000 fields of a config.
  if (!/[\\\t\n\0]/.test(value)) return value;
  if (value.includes('\0')) throw new SandboxSpecError(`NUL byte in ${JSON.stringify(value)}`);
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

// The seccomp rules' records by the rules themselves (as JSON, which is
// cheap): every RUN of a build has the same few hundred, escaped once
// rather than per RUN (~1 ms each).
const seccompLines = new Map<string, string[]>();

function seccompRecordLines(seccomp: OciSeccomp): string[] {
  const key = JSON.stringify(seccomp);
  let lines = seccompLines.get(key);
  if (!lines) {
    lines = seccompRecords(seccomp).map((fields) => record(...fields));
    if (seccompLines.size >= 8) seccompLines.clear();
    seccompLines.set(key, lines);
  }
  return lines;
}

export function record(...fields: (string | number)[]): string {
  return fields.map((f) => escapeField(String(f))).join('\t');
}

function absolute(path: string, what: string): string {
  if (!isAbsolute(path)) throw new SandboxSpecError(`${what} must be an absolute path, got ${JSON.stringify(path)}`);
  return path;
}

function commonDir(paths: string[]): string {
  let common = dirname(paths[0]!);
  while (!paths.every((p) => p.startsWith(common === '/' ? '/' : `${common}/`))) common = dirname(common);
  return common;
}

/** overlay mount options; relative to a shared parent dir when absolute paths would not fit in a page. */
export function overlayRecord(layers: RootLayers): string {
  if (layers.lowerDirs.length === 0) throw new SandboxSpecError('rootLayers.lowerDirs is empty');
  if (!layers.upperDir !== !layers.workDir) throw new SandboxSpecError('rootLayers needs both upperDir and workDir, or neither');
  if (!layers.upperDir && layers.lowerDirs.length < 2) {
    throw new SandboxSpecError('a read-only overlay (no upperDir) needs at least two lowerDirs; bind a single layer as root.path instead');
  }
  const all = [...layers.lowerDirs, ...(layers.upperDir ? [layers.upperDir, layers.workDir!] : [])];
  for (const dir of all) {
    absolute(dir, 'overlay layer dir');
    // ':' separates lower dirs and ',' separates options in overlay's syntax
    if (/[:,]/.test(dir)) throw new SandboxSpecError(`overlay layer dir may not contain ':' or ',': ${dir}`);
  }
  const render = (rel: (p: string) => string) => ({
    lower: layers.lowerDirs.map(rel).join(':'),
    upper: layers.upperDir ? rel(layers.upperDir) : '',
    work: layers.workDir ? rel(layers.workDir) : '',
  });
  const size = (o: { lower: string; upper: string; work: string }) => o.lower.length + o.upper.length + o.work.length + 40;
  let opts = render((p) => p);
  let cwd = '';
  if (size(opts) > MAX_MOUNT_DATA) {
    cwd = commonDir(all);
    opts = render((p) => relative(cwd, p));
    if (size(opts) > MAX_MOUNT_DATA) throw new SandboxSpecError(`too many layers for one overlay mount (${layers.lowerDirs.length})`);
  }
  return record('overlay', opts.lower, opts.upper, opts.work, cwd);
}

/** Only keys a container's own namespaces own (runc's rule): anything else would change the host. */
function sysctlRecord(key: string, value: string, namespaces: Set<string>): string {
  if (!/^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/.test(key)) throw new SandboxSpecError(`invalid sysctl name ${JSON.stringify(key)}`);
  const ipc = /^(kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)|fs\.mqueue\.)/.test(key);
  if (ipc && !namespaces.has('ipc')) throw new SandboxSpecError(`sysctl ${key} needs the ipc namespace`);
  if (key.startsWith('net.') && !namespaces.has('network')) throw new SandboxSpecError(`sysctl ${key} is not allowed in the host's network namespace`);
  if (!ipc && !key.startsWith('net.')) throw new SandboxSpecError(`sysctl ${key} is not namespaced: it would change the host`);
  return record('sysctl', key, value);
}

function deviceRecord(d: SandboxDevice): string {
  absolute(d.path, 'device path');
  return record('device', d.path, d.type, d.major, d.minor, (d.fileMode ?? 0o666).toString(8), d.uid ?? 0, d.gid ?? 0);
}

function hex(mask: bigint): string {
  return mask.toString(16);
}

export function compileHelperConfig(spec: SandboxSpec, ctx: HelperContext): string {
  const p = spec.process;
  if (p.args.length === 0) throw new SandboxSpecError('process.args is empty');
  const lines: string[] = [record('version', 1), record('owner_pid', ctx.ownerPid)];
  for (const file of ctx.cgroupProcs) lines.push(record('cgroup_procs', file));

  const namespaces = new Set(spec.linux.namespaces.map((n) => n.type));
  // Everything below relies on a private mount namespace and on being PID 1
  // of a fresh /proc; sharing the host's would defeat the sandbox.
  for (const required of ['mount', 'pid'] as const) {
    if (!namespaces.has(required)) throw new SandboxSpecError(`the ${required} namespace is required`);
  }
  for (const ns of spec.linux.namespaces) {
    if (ns.path === undefined) lines.push(record('namespace', ns.type));
    else if (ns.type === 'network') lines.push(record('netns', absolute(ns.path, 'network namespace path')));
    else throw new SandboxSpecError(`joining an existing ${ns.type} namespace is not supported`);
  }
  if (spec.hostname) {
    if (!namespaces.has('uts')) throw new SandboxSpecError('hostname needs the uts namespace');
    lines.push(record('hostname', spec.hostname));
  }

  lines.push(record('root', absolute(spec.root.path, 'root.path'), spec.root.readonly ? 1 : 0));
  if (spec.rootLayers) lines.push(overlayRecord(spec.rootLayers));

  for (const m of spec.mounts) {
    absolute(m.destination, 'mount destination');
    const isBind = m.type === 'bind';
    if (isBind && !m.source) throw new SandboxSpecError(`bind mount on ${m.destination} has no source`);
    if (isBind) absolute(m.source!, 'bind mount source');
    const o = parseMountOptions(m.options, isBind);
    lines.push(record('mount', m.destination, m.type, m.source ?? '', o.flags, o.propagation, o.data));
  }
  const devTmpfs = spec.mounts.some((m) => m.destination === '/dev' && m.type === 'tmpfs');
  const devices = [...(devTmpfs ? DEFAULT_DEVICES : []), ...(spec.linux.devices ?? [])];
  for (const d of devices) lines.push(deviceRecord(d));
  if (devTmpfs) {
    for (const [target, path] of DEV_SYMLINKS) lines.push(record('symlink', target, path));
    if (spec.mounts.some((m) => m.destination === '/dev/pts' && m.type === 'devpts')) {
      // with newinstance, /dev/ptmx must lead to this namespace's own pts
      lines.push(record('symlink', 'pts/ptmx', '/dev/ptmx'));
    }
  }
  for (const [key, value] of Object.entries(spec.linux.sysctl ?? {})) lines.push(sysctlRecord(key, value, namespaces));
  for (const path of spec.linux.maskedPaths ?? []) lines.push(record('masked', absolute(path, 'masked path')));
  for (const path of spec.linux.readonlyPaths ?? []) lines.push(record('readonly', absolute(path, 'read-only path')));

  lines.push(...processRecords(p));
  if (ctx.deviceCgroupDir) {
    lines.push(record('devices_bpf', absolute(ctx.deviceCgroupDir, 'device cgroup dir')));
    for (const rule of deviceRulesOf(spec)) lines.push(record('device_rule', ...helperRuleFields(rule)));
  }
  if (spec.linux.seccomp) {
    lines.push(...seccompRecordLines(spec.linux.seccomp));
    if (ctx.seccompCacheDir) lines.push(record('seccomp_cache', absolute(ctx.seccompCacheDir, 'seccomp cache dir')));
  }
  return lines.join('\n') + '\n';
}

/** What the process itself needs (also all an exec into a running container needs). */
export function processRecords(p: SandboxSpec['process']): string[] {
  const lines: string[] = [];
  for (const r of p.rlimits ?? []) {
    const resource = RLIMITS[r.type];
    if (resource === undefined) throw new SandboxSpecError(`unknown rlimit ${r.type}`);
    lines.push(record('rlimit', resource, r.soft, r.hard));
  }
  lines.push(record('user', p.user.uid, p.user.gid));
  for (const gid of p.user.additionalGids ?? []) lines.push(record('group', gid));
  const caps = p.capabilities ?? { bounding: [], effective: [], permitted: [] };
  lines.push(record('caps', hex(capabilityMask(caps.bounding)), hex(capabilityMask(caps.effective)),
    hex(capabilityMask(caps.permitted)), hex(capabilityMask(caps.inheritable)), hex(capabilityMask(caps.ambient))));
  lines.push(record('no_new_privs', p.noNewPrivileges ? 1 : 0));
  if (p.init) lines.push(record('init', 1));
  if (p.terminal) lines.push(record('terminal', 1, p.consoleSize?.height ?? 0, p.consoleSize?.width ?? 0));
  lines.push(record('cwd', absolute(p.cwd || '/', 'process.cwd')));
  for (const e of p.env) lines.push(record('env', e));
  for (const a of p.args) lines.push(record('arg', a));
  return lines;
}
