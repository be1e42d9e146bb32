// What `tsbuild run` was asked for, and the parsers that turn Docker's
// flag spellings (512m, 0.5, 8080:80/tcp, /a:/b:ro, env files) into values.
// Pure: no fs (env files are read by the caller), easy to unit-test.
import path from 'node:path';
import type { SandboxResources } from '../../runner-native/index.js';
import { ContainerError } from './errors.js';
import type { SecurityOptions } from './security-options.js';

export type NetworkMode = 'none' | 'host' | 'private';

export interface PortMapping {
  /** '0.0.0.0' unless the flag named an address */
  hostIp: string;
  /** 0 = any free port, chosen when the proxy starts */
  hostPort: number;
  containerPort: number;
  protocol: 'tcp';
}

export interface VolumeMount {
  source: string;
  destination: string;
  readonly: boolean;
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
  readOnly: boolean;
  network: NetworkMode;
  ports: PortMapping[];
  volumes: VolumeMount[];
  resources: SandboxResources;
  /** --security-opt; absent: the default seccomp profile, no no-new-privileges */
  security?: SecurityOptions;
}

function invalid(message: string): ContainerError {
  return new ContainerError('INVALID_RUN_OPTION', message);
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker's RAMInBytes: `512m`, `1g`, `1.5GB`, `1048576`; binary units. */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(text.trim());
  if (!m) throw invalid(`invalid size: '${text}'`);
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
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

/** `[IP:][HOSTPORT:]CONTAINERPORT[/tcp]`; a missing host port means any free one. */
export function parsePort(text: string): PortMapping {
  const slash = text.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : text.slice(slash + 1).toLowerCase();
  if (proto !== 'tcp') throw invalid(`-p ${text}: only tcp ports can be published (${proto} is not supported)`);
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
    protocol: 'tcp',
  };
}

/** `-v /host/dir:/container/dir[:ro|rw]`; named volumes do not exist here. */
export function parseVolume(text: string, cwd = process.cwd()): VolumeMount {
  const parts = text.split(':');
  let mode = 'rw';
  if (parts.length === 3) mode = parts.pop()!;
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw invalid(`invalid volume specification: '${text}' (expected HOSTDIR:DIR[:ro])`);
  if (mode !== 'ro' && mode !== 'rw') throw invalid(`invalid mode '${mode}' in volume '${text}' (ro or rw)`);
  const [source, destination] = parts as [string, string];
  if (!source.startsWith('/') && !source.startsWith('.')) {
    throw invalid(`named volumes are not supported: '${source}' (give a host path, e.g. ./${source} or /abs/${source})`);
  }
  if (!destination.startsWith('/')) throw invalid(`invalid volume destination '${destination}': it must be an absolute path`);
  return { source: path.resolve(cwd, source), destination: path.posix.normalize(destination), readonly: mode === 'ro' };
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
