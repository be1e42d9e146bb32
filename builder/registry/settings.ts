// Which URL to speak to for a registry name, over which scheme, and which
// mirrors to try first. Two sources, merged:
//   env  TSBUILD_INSECURE_REGISTRIES=host:port,host2
//        TSBUILD_REGISTRY_MIRRORS=docker.io=http://127.0.0.1:5000,docker.io=https://mirror.example
//   file <store root>/registries.json
//        {"insecure": ["host:port"], "mirrors": {"docker.io": ["http://127.0.0.1:5000"]}}
// Loopback registries (localhost, 127.0.0.0/8, [::1], any port) are
// insecure without configuration, as in Docker. An insecure registry is
// tried over HTTPS without certificate checks first, then plain HTTP;
// every other registry is HTTPS only. Mirrors serve pulls only, and their
// scheme is whatever their URL says (configuring one is consent).

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DEFAULT_DOMAIN } from '../image/reference.js';
import { RegistryError } from './errors.js';
import { stallLimitsFromEnv, type StallLimits } from './stall.js';

export interface RegistrySettings {
  insecure: string[];
  mirrors: Record<string, string[]>;
  /** When a trickling download is cut and when a pull gives up (stall.ts); default DEFAULT_STALL_LIMITS. */
  stall?: StallLimits;
}

export interface Endpoint {
  /** The registry as references name it: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** host[:port] we connect to (`registry-1.docker.io` for Docker Hub). */
  host: string;
  /** Schemes to try in order; the first that answers is kept for the process. */
  schemes: Array<'https' | 'http'>;
  insecureTls: boolean;
  /** Path prefix of a mirror URL (`/v2` is appended); '' for registries. */
  pathPrefix: string;
  mirror: boolean;
}

export const SETTINGS_FILE = 'registries.json';
const DOCKER_HUB_HOST = 'registry-1.docker.io';

function splitList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function invalid(why: string): RegistryError {
  return new RegistryError('REGISTRY_SETTINGS', why);
}

function parseMirrorEnv(value: string | undefined, into: Record<string, string[]>): void {
  for (const pair of splitList(value)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalid(`TSBUILD_REGISTRY_MIRRORS: expected REGISTRY=URL, got ${JSON.stringify(pair)}`);
    (into[pair.slice(0, eq)] ??= []).push(pair.slice(eq + 1));
  }
}

export async function loadRegistrySettings(root: string | undefined): Promise<RegistrySettings> {
  const settings: RegistrySettings = { insecure: [], mirrors: {} };
  // Without a store there is no registries.json: only the environment's settings.
  const file = path.join(root ?? '', SETTINGS_FILE);
  let text: string | undefined;
  try {
    if (root !== undefined) text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) {
    let parsed: Partial<RegistrySettings>;
    try {
      parsed = JSON.parse(text) as Partial<RegistrySettings>;
    } catch {
      throw invalid(`${file} is not valid JSON`);
    }
    if (parsed.insecure !== undefined && !Array.isArray(parsed.insecure)) throw invalid(`${file}: "insecure" must be a list of host[:port]`);
    settings.insecure.push(...(parsed.insecure ?? []).map(String));
    for (const [registry, urls] of Object.entries(parsed.mirrors ?? {})) {
      if (!Array.isArray(urls)) throw invalid(`${file}: mirrors of ${registry} must be a list of URLs`);
      (settings.mirrors[registry] ??= []).push(...urls.map(String));
    }
  }
  settings.insecure.push(...splitList(process.env.TSBUILD_INSECURE_REGISTRIES));
  parseMirrorEnv(process.env.TSBUILD_REGISTRY_MIRRORS, settings.mirrors);
  settings.stall = stallLimitsFromEnv(process.env);
  return settings;
}

/** `host:port` → `host`, `[::1]:5000` → `::1`. */
export function hostnameOf(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const colon = hostPort.lastIndexOf(':');
  return colon > 0 && hostPort.indexOf(':') === colon ? hostPort.slice(0, colon) : hostPort;
}

export function isLoopback(hostPort: string): boolean {
  const host = hostnameOf(hostPort).toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function isInsecureRegistry(registry: string, settings: RegistrySettings): boolean {
  if (isLoopback(registry)) return true;
  // Listing a bare host covers all its ports, as people expect from a list of names.
  return settings.insecure.some((entry) => entry === registry || entry === hostnameOf(registry));
}

function registryEndpoint(registry: string, settings: RegistrySettings): Endpoint {
  const insecure = isInsecureRegistry(registry, settings);
  return {
    registry,
    host: registry === DEFAULT_DOMAIN ? DOCKER_HUB_HOST : registry,
    schemes: insecure ? ['https', 'http'] : ['https'],
    insecureTls: insecure,
    pathPrefix: '',
    mirror: false,
  };
}

function mirrorEndpoint(registry: string, url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`mirror of ${registry}: ${JSON.stringify(url)} is not a URL (expected http://host[:port] or https://...)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid(`mirror of ${registry}: ${url} must be http or https`);
  return {
    registry,
    host: parsed.host,
    schemes: [parsed.protocol === 'http:' ? 'http' : 'https'],
    insecureTls: false,
    pathPrefix: parsed.pathname.replace(/\/+$/, '').replace(/\/v2$/, ''),
    mirror: true,
  };
}

/** Endpoints to try for `registry`: for pulls its mirrors first, then the registry itself. */
export function endpointsFor(registry: string, settings: RegistrySettings, purpose: 'pull' | 'push'): Endpoint[] {
  const mirrors = purpose === 'pull' ? (settings.mirrors[registry] ?? []).map((url) => mirrorEndpoint(registry, url)) : [];
  return [...mirrors, registryEndpoint(registry, settings)];
}

/** The registry named by what a user types for login/logout: `host:port`, `https://host/`, `docker.io`. */
export function registryFromServerArg(server: string | undefined): string {
  if (server === undefined || server === '') return DEFAULT_DOMAIN;
  let s = server.trim().replace(/^[a-z]+:\/\//i, '');
  s = s.split('/')[0]!;
  const lower = s.toLowerCase();
  if (lower === 'index.docker.io' || lower === 'registry-1.docker.io' || lower === 'docker.io') return DEFAULT_DOMAIN;
  return s;
}
