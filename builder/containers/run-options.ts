// What `tsbuild run` was asked for, and the parsers that turn Docker's
// flag spellings (512m, 0.5, 8080:80/tcp, /a:/b:ro, env files) into values.
// Pure: no fs (env files are read by the caller), easy to unit-test.
import type { SandboxResources } from '../../runner-native/index.js';
import { parseBytes } from './byte-size.js';
import { ContainerError } from './errors.js';
import type { RestartPolicy } from './restart-policy.js';
import type { MountRequest } from './mount-spec.js';
import type { SecurityOptions } from './security-options.js';
import type { PrivilegeOptions } from './privileges.js';

export type NetworkMode = 'none' | 'host' | 'private';

export interface PortMapping {
  /** '0.0.0.0' unless the flag named an address */
  hostIp: string;
  /** 0 = any free port, chosen when the proxy starts */
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** --health-* and --no-healthcheck as given (see health.ts) */
export interface HealthFlags {
  cmd?: string;
  interval?: string;
  timeout?: string;
  retries?: string;
  startPeriod?: string;
  none: boolean;
}

export interface ContainerRunOptions {
  image: string;
  /** replaces the image's CMD when not empty */
  command: string[];
  /** --entrypoint: '' clears the image's ENTRYPOINT; undefined keeps it */
  entrypoint?: string;
  /** `K=V` sets, a bare `K` removes K from the image's environment (Docker's rule for `-e K` with K unset) */
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  name?: string;
  autoRemove: boolean;
  detach: boolean;
  interactive: boolean;
  tty: boolean;
  readOnly: boolean;
  network: NetworkMode;
  ports: PortMapping[];
  /** -v, --mount, --tmpfs in the order given */
  mounts: MountRequest[];
  /** --volumes-from CONTAINER[:ro|rw] */
  volumesFrom: string[];
  resources: SandboxResources;
  /** --security-opt; absent: the default seccomp profile, no no-new-privileges */
  security?: SecurityOptions;
  restartPolicy?: RestartPolicy;
  labels?: Record<string, string>;
  /** --stop-signal, else the image's STOPSIGNAL */
  stopSignal?: string;
  stopTimeout?: number;
  health?: HealthFlags;
  privileges?: PrivilegeOptions;
  /** --add-host NAME:IP lines for /etc/hosts */
  extraHosts?: string[];
  /** --dns servers for /etc/resolv.conf */
  dns?: string[];
  /** -P: every exposed port to a free host port */
  publishAll?: boolean;
  /** --init: a reaper as PID 1 */
  init?: boolean;
  /** --expose PORT[/PROTO] */
  expose?: string[];
}

function invalid(message: string): ContainerError {
  return new ContainerError('INVALID_RUN_OPTION', message);
}

/** Docker's RAMInBytes: `512m`, `1g`, `1.5GB`, `1048576`; binary units. */
export function parseMemory(text: string): number {
  const bytes = parseBytes(text);
  // below this the kernel's own accounting trips before the program starts (Docker's limit too)
  if (bytes < 6 * 1024 * 1024) throw invalid('minimum memory limit allowed is 6MB');
  return bytes;
}

const CPU_PERIOD = 100_000;

/** `--cpus 0.5` → half of one CPU every CFS period, as Docker maps NanoCPUs. */
export function parseCpus(text: string): { quota: number; period: number } {
  const n = Number(text);
  if (!/^\d*\.?\d+$/.test(text.trim()) || !(n > 0)) throw invalid(`invalid value for --cpus: '${text}' (a positive number, e.g. 0.5)`);
  return { quota: Math.max(1000, Math.round(n * CPU_PERIOD)), period: CPU_PERIOD };
}

export function parsePidsLimit(text: string): number {
  if (!/^-?\d+$/.test(text)) throw invalid(`invalid value for --pids-limit: '${text}'`);
  return Number(text);
}

function portNumber(text: string, what: string, allowZero: boolean): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535 || (n === 0 && !allowZero)) throw invalid(`invalid ${what} port: '${text}'`);
  return n;
}

/** `[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/tcp]`: one mapping per port of a range. */
export function parsePorts(text: string): PortMapping[] {
  const m = /^(.*?)(\d+)-(\d+)(\/\w+)?$/.exec(text);
  if (!m) return [parsePort(text)];
  const [, prefix, fromText, toText, proto = ''] = m;
  const from = Number(fromText);
  const to = Number(toText);
  if (to < from) throw invalid(`invalid port range: '${text}'`);
  const hostRange = /^(.*?:)?(\d+)-(\d+):$/.exec(prefix!);
  if (hostRange && Number(hostRange[3]) - Number(hostRange[2]) !== to - from) {
    throw invalid(`invalid ranges specified for container and host ports: '${text}'`);
  }
  const out: PortMapping[] = [];
  for (let i = 0; i <= to - from; i++) {
    const host = hostRange ? `${hostRange[1] ?? ''}${Number(hostRange[2]) + i}:` : prefix!;
    out.push(parsePort(`${host}${from + i}${proto}`));
  }
  return out;
}

/** `[IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]`; a missing host port means any free one. */
export function parsePort(text: string): PortMapping {
  const slash = text.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : text.slice(slash + 1).toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') throw invalid(`-p ${text}: only tcp and udp ports can be published (${proto} is not supported)`);
  const spec = slash < 0 ? text : text.slice(0, slash);
  // an IPv6 address comes in brackets: [::1]:8080:80
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(?:(\d*):)?(\d+)$/.exec(spec);
  if (!m) throw invalid(`invalid port specification: '${text}' (expected [IP:]HOST:CONTAINER[/tcp])`);
  let ip: string | undefined = m[1];
  let host: string | undefined = m[2];
  const container = m[3];
  // `8080:80` matches ip=8080, host=undefined: a two-part spec is HOST:CONTAINER
  if (host === undefined && ip !== undefined && /^\d*$/.test(ip)) [ip, host] = [undefined, ip];
  return {
    hostIp: ip ? ip.replace(/^\[|\]$/g, '') : '0.0.0.0',
    hostPort: host ? portNumber(host, 'host', false) : 0,
    containerPort: portNumber(container!, 'container', false),
    protocol: proto,
  };
}

/**
 * One `-e` value: `K=V` as is; a bare `K` takes K from the caller's
 * environment, and if the caller has none, stays bare (which removes K).
 */
export function envFromFlag(value: string, callerEnv: NodeJS.ProcessEnv): string {
  if (value.includes('=')) {
    if (value.startsWith('=')) throw invalid(`invalid environment variable: ${value}`);
    return value;
  }
  if (!value) throw invalid('invalid environment variable: empty name');
  const inherited = callerEnv[value];
  return inherited === undefined ? value : `${value}=${inherited}`;
}

/** Docker's env-file format: one `K=V` or `K` a line, `#` comments, no quoting. */
export function parseEnvFile(text: string, callerEnv: NodeJS.ProcessEnv, fileName = 'env file'): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    if (/\s/.test(line.split('=')[0]!)) throw invalid(`${fileName}:${i + 1}: variable '${line.split('=')[0]}' contains whitespaces`);
    out.push(envFromFlag(line, callerEnv));
  });
  return out;
}

export function parseNetwork(text: string): NetworkMode {
  if (text === 'bridge' || text === 'private' || text === 'default') return 'private';
  if (text === 'none' || text === 'host') return text;
  throw invalid(`unknown network '${text}' (none, host, private; bridge means private)`);
}
