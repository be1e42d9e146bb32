// `build --add-host`, `--ulimit`, `--shm-size` and `--cgroup-parent`, as
// docker buildx takes them, applied to every RUN's sandbox. Extra hosts and
// limits can change what a RUN produces, so they enter its cache key (as
// they are part of BuildKit's ExecOp); the cgroup parent only places it.
import { randomBytes } from '../../runner-native/native-crypto.js';
import { UsageError } from '../errors.js';

export interface RunResources {
  /** `host:ip` entries for /etc/hosts. */
  addHosts: { host: string; ip: string }[];
  ulimits: { type: string; soft: number; hard: number }[];
  /** Bytes of /dev/shm; undefined keeps the default (64 MiB). */
  shmSize?: number;
  cgroupParent?: string;
}

const ULIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

/** `host:ip` (docker also accepts `host=ip`); IPv6 addresses keep their colons. */
export function parseAddHost(spec: string): { host: string; ip: string } {
  const sep = spec.search(/[:=]/);
  const host = sep < 0 ? '' : spec.slice(0, sep);
  const ip = sep < 0 ? '' : spec.slice(sep + 1).replace(/^\[(.*)\]$/, '$1');
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  const validIp = (ipv4 && ipv4.slice(1).every((o) => Number(o) <= 255)) || (/^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(':'));
  if (!host || /\s/.test(host) || !validIp) throw new UsageError(`invalid --add-host "${spec}": expected host:ip`);
  return { host, ip };
}

/** `name=soft[:hard]`, as docker's --ulimit. */
export function parseUlimit(spec: string): { type: string; soft: number; hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  const type = m ? ULIMITS[m[1]!] : undefined;
  if (!m || !type) throw new UsageError(`invalid --ulimit "${spec}": expected NAME=SOFT[:HARD] with NAME one of ${Object.keys(ULIMITS).join(', ')}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw new UsageError(`invalid --ulimit "${spec}": soft limit ${soft} is above the hard limit ${hard}`);
  const unlimited = (n: number) => (n === -1 ? Number.MAX_SAFE_INTEGER : n);
  return { type, soft: unlimited(soft), hard: unlimited(hard) };
}

/** docker's RAMInBytes: `64m`, `1g`, `512k`, plain bytes. */
export function parseShmSize(spec: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(spec.trim());
  if (!m) throw new UsageError(`invalid --shm-size "${spec}": expected a size such as 64m or 1g`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * mult);
  if (bytes <= 0) throw new UsageError(`invalid --shm-size "${spec}": must be greater than 0`);
  return bytes;
}

export function parseCgroupParent(value: string): string {
  const clean = value.replace(/^\/+|\/+$/g, '');
  if (clean === '' || clean.split('/').some((p) => p === '..' || p === '.')) throw new UsageError(`invalid --cgroup-parent "${value}"`);
  return clean;
}

/** /etc/hosts of a RUN: BuildKit's defaults plus the --add-host entries. */
export function hostsFile(addHosts: RunResources['addHosts']): string {
  const lines = ['127.0.0.1\tlocalhost buildkitsandbox', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const h of addHosts) lines.push(`${h.ip}\t${h.host}`);
  return lines.join('\n') + '\n';
}

/** What of them enters a RUN's cache key (nothing when none is set, so keys stay as they were). */
export function resourcesKey(r: RunResources | undefined): unknown {
  if (!r || (r.addHosts.length === 0 && r.ulimits.length === 0 && r.shmSize === undefined)) return undefined;
  return { addHosts: r.addHosts, ulimits: r.ulimits, shmSize: r.shmSize };
}

/** The sandbox cgroup of one RUN below --cgroup-parent. */
export function cgroupPathUnder(parent: string): string {
  return `${parent}/tsbuild-run-${randomBytes(6).toString('hex')}`;
}
