// The sandbox spec: shaped like the OCI runtime spec's config.json
// (process, root, mounts, hostname, linux) so an installed runc/crun could
// run the very same description. Two deliberate extensions:
//  - `rootLayers`: the helper mounts the overlay itself *inside* the
//    sandbox's mount namespace, so it vanishes with the namespace (even on
//    kill -9) and nothing is ever left mounted on the host. `root.path` is
//    then only the (empty) mountpoint. Without `rootLayers`, `root.path` is
//    an already prepared rootfs directory, exactly as in OCI.
//  - devices: like runc, the default /dev nodes (null, zero, full, random,
//    urandom, tty) are created whenever /dev is a tmpfs; `linux.devices`
//    adds more.

import { compileSeccomp, defaultSeccompProfile, type OciSeccomp, type SeccompProfile } from './seccomp.js';

export type NamespaceType = 'pid' | 'mount' | 'uts' | 'ipc' | 'network';
export type MountType = 'bind' | 'tmpfs' | 'proc' | 'sysfs' | 'devpts' | 'mqueue';

export interface SandboxMount {
  destination: string;
  type: MountType;
  source?: string;
  /** mount(8)-style options: ro, nosuid, nodev, noexec, rbind, bind, rprivate, mode=755, size=64m, ... */
  options?: string[];
}

export interface SandboxCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable?: string[];
  ambient?: string[];
}

export interface SandboxRlimit {
  /** OCI name, e.g. `RLIMIT_NOFILE` */
  type: string;
  soft: number;
  hard: number;
}

export interface SandboxProcess {
  args: string[];
  /** `KEY=value` strings */
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
  /** A pseudo-terminal as the process's controlling terminal and stdio (native runtime only). */
  terminal?: boolean;
  /** tsbuild's extension (docker's --init): PID 1 is a small reaper that runs the command as its child. */
  init?: boolean;
  /** The terminal's initial size, as in OCI. */
  consoleSize?: { height: number; width: number };
  noNewPrivileges?: boolean;
  capabilities?: SandboxCapabilities;
  rlimits?: SandboxRlimit[];
}

export interface RootLayers {
  /** Top-most layer first (overlayfs order). */
  lowerDirs: string[];
  /** Omit upperDir/workDir for a read-only root made of the lower layers only. */
  upperDir?: string;
  workDir?: string;
}

/** OCI `linux.resources.devices` entry; rules apply in order, the last that matches wins. */
export interface SandboxDeviceRule {
  allow: boolean;
  /** 'a' (or absent): any type */
  type?: 'a' | 'c' | 'b';
  /** absent: any */
  major?: number;
  minor?: number;
  /** subset of 'rwm'; absent: 'rwm' */
  access?: string;
}

export interface SandboxResources {
  /** bytes; `swap` is memory+swap, as in OCI */
  memory?: { limit?: number; swap?: number };
  /** CFS quota/period in microseconds; shares as in cgroup v1 (1024 = default) */
  cpu?: { quota?: number; period?: number; shares?: number };
  pids?: { limit?: number };
  /** device cgroup rules, in order; default Docker's (DOCKER_DEVICE_RULES in device-rules.ts) */
  devices?: SandboxDeviceRule[];
}

export interface SandboxDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface SandboxSpec {
  process: SandboxProcess;
  root: { path: string; readonly?: boolean };
  rootLayers?: RootLayers;
  mounts: SandboxMount[];
  hostname?: string;
  linux: {
    /** `path`: join that existing namespace (only for `network`: one shared by a build's RUN steps) */
    namespaces: { type: NamespaceType; path?: string }[];
    resources?: SandboxResources;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    /** Relative to each cgroup hierarchy's root; default `<Sandbox cgroupParent>/<run id>`. */
    cgroupsPath?: string;
    devices?: SandboxDevice[];
    /** the compiled seccomp filter (OCI form); absent: unconfined */
    seccomp?: OciSeccomp;
    /** Namespaced kernel parameters (net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*), as OCI's linux.sysctl. */
    sysctl?: Record<string, string>;
  };
}

/** Docker's default capability set (moby oci/caps/defaults.go), OCI spelling. */
export const DOCKER_DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Paths Docker hides: host information leaks and kernel knobs. */
export const DOCKER_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys',
  '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug',
  '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

/** Paths Docker makes read-only: host-wide kernel controls under /proc. */
export const DOCKER_READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default mounts: a private /proc, a tmpfs /dev with devpts, shm and mqueue, /sys read-only. */
export function dockerDefaultMounts(): SandboxMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

export interface DefaultSpecOptions {
  args: string[];
  /** The rootfs directory, or the empty mountpoint when `rootLayers` is given. */
  rootPath: string;
  rootLayers?: RootLayers;
  env?: string[];
  cwd?: string;
  user?: { uid: number; gid: number; additionalGids?: number[] };
  hostname?: string;
  /**
   * 'none' (default): own network namespace with only `lo`; 'host': share the host's network;
   * `{ namespacePath }`: join that prepared namespace (e.g. /proc/PID/ns/net of a holder process).
   */
  network?: 'none' | 'host' | { namespacePath: string };
  /** moby-format profile, or 'unconfined'; default: Docker's default profile (seccomp/default.json) */
  seccomp?: SeccompProfile | 'unconfined';
  noNewPrivileges?: boolean;
  readonlyRoot?: boolean;
  resources?: SandboxResources;
  /** Appended after Docker's default mounts (bind mounts of caches, secrets, ...). */
  mounts?: SandboxMount[];
}

/** A spec with Docker's defaults: namespaces, caps, mounts, masked and read-only paths. */
export function defaultSpec(opts: DefaultSpecOptions): SandboxSpec {
  const user = opts.user ?? { uid: 0, gid: 0 };
  const env = [...(opts.env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
  // Like moby since v23: a non-root user gets the default set only as its
  // bounding set, so it holds no capability unless it execs a binary that
  // carries file capabilities (or a setuid one).
  const caps = [...DOCKER_DEFAULT_CAPS];
  const capabilities: SandboxCapabilities = user.uid === 0
    ? { bounding: caps, effective: caps, permitted: caps }
    : { bounding: caps, effective: [], permitted: [] };
  const namespaces: SandboxSpec['linux']['namespaces'] = [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' }];
  const network = opts.network ?? 'none';
  if (network === 'none') namespaces.push({ type: 'network' });
  else if (network !== 'host') namespaces.push({ type: 'network', path: network.namespacePath });
  const spec: SandboxSpec = {
    process: {
      args: [...opts.args], env, cwd: opts.cwd ?? '/', user, capabilities,
      ...(opts.noNewPrivileges ? { noNewPrivileges: true } : {}),
    },
    root: { path: opts.rootPath, readonly: opts.readonlyRoot ?? false },
    ...(opts.rootLayers ? { rootLayers: opts.rootLayers } : {}),
    mounts: [...dockerDefaultMounts(), ...(opts.mounts ?? [])],
    ...(opts.hostname ? { hostname: opts.hostname } : {}),
    linux: {
      namespaces,
      ...(opts.resources ? { resources: opts.resources } : {}),
      maskedPaths: [...DOCKER_MASKED_PATHS],
      readonlyPaths: [...DOCKER_READONLY_PATHS],
    },
  };
  return withSeccomp(spec, opts.seccomp ?? defaultSeccompProfile());
}

/**
 * The spec with `profile` compiled for its capabilities (moby's rule: a
 * rule gated on a capability applies when the bounding set has it), or
 * with no filter for 'unconfined'. Call it again after changing the caps.
 */
export function withSeccomp(spec: SandboxSpec, profile: SeccompProfile | 'unconfined'): SandboxSpec {
  const linux = { ...spec.linux };
  if (profile === 'unconfined') delete linux.seccomp;
  else linux.seccomp = compileSeccomp(profile, { capabilities: spec.process.capabilities?.bounding ?? [] });
  return { ...spec, linux };
}
