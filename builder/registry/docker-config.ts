// Registry credentials in Docker's client config, so `docker login` and
// `tsbuild login` share them: $DOCKER_CONFIG/config.json (default
// ~/.docker/config.json) with
//   auths:       { "<server>": { auth: base64("user:pass") } }
//   credHelpers: { "<server>": "<helper>" }   per-registry helper
//   credsStore:  "<helper>"                     helper for all registries
// Unknown fields are kept when we rewrite the file, and writes are atomic
// with mode 0600 (the file holds passwords).

import { randomBytes } from '../../runner-native/native-crypto.js';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_DOMAIN } from '../image/reference.js';
import { helperErase, helperGet, helperStore } from './cred-helper.js';
import { RegistryError } from './errors.js';
import { registryFromServerArg } from './settings.js';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [other: string]: unknown;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [other: string]: unknown;
}

const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** The key Docker writes for a registry: Docker Hub keeps its historical URL. */
export function credentialKey(registry: string): string {
  return registry === DEFAULT_DOMAIN ? DOCKER_HUB_KEY : registry;
}

async function readConfig(file: string): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as DockerConfigFile;
  } catch {
    throw new RegistryError('DOCKER_CONFIG', `${file} is not a valid docker config (JSON object expected)`);
  }
}

async function writeConfig(file: string, config: DockerConfigFile): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = path.join(path.dirname(file), `.config.json.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(JSON.stringify(config, null, '\t') + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Keys in `auths` may be `host`, `https://host/`, `http://host/v2/`...: match them by registry. */
function authKeysFor(config: DockerConfigFile, registry: string): string[] {
  return Object.keys(config.auths ?? {}).filter((k) => registryFromServerArg(k) === registry);
}

function helperFor(config: DockerConfigFile, registry: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  return helpers[credentialKey(registry)] ?? helpers[registry] ?? (config.credsStore || undefined);
}

function decodeEntry(entry: AuthEntry, file: string, key: string): Credentials | undefined {
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new RegistryError('DOCKER_CONFIG', `${file}: the auth of ${key} is not base64("user:password")`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  return undefined;
}

/** Stored credentials for `registry` (as references name it), or undefined for anonymous access. */
export async function getCredentials(registry: string): Promise<Credentials | undefined> {
  const file = dockerConfigPath();
  const config = await readConfig(file);
  const helper = helperFor(config, registry);
  if (helper) {
    const got = await helperGet(helper, credentialKey(registry));
    if (got) return { username: got.username, password: got.secret };
  }
  for (const key of authKeysFor(config, registry)) {
    const creds = decodeEntry(config.auths![key]!, file, key);
    if (creds) return creds;
  }
  return undefined;
}

export async function storeCredentials(registry: string, creds: Credentials): Promise<void> {
  const file = dockerConfigPath();
  const config = await readConfig(file);
  const auths = (config.auths ??= {});
  for (const key of authKeysFor(config, registry)) delete auths[key];
  const helper = helperFor(config, registry);
  if (helper) {
    await helperStore(helper, credentialKey(registry), { username: creds.username, secret: creds.password });
    // Docker leaves an empty entry so `docker info`-style listings know the server.
    auths[credentialKey(registry)] = {};
  } else {
    auths[credentialKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  }
  await writeConfig(file, config);
}

/** Returns false when nothing was stored for `registry`. */
export async function eraseCredentials(registry: string): Promise<boolean> {
  const file = dockerConfigPath();
  const config = await readConfig(file);
  const keys = authKeysFor(config, registry);
  let erased = false;
  const helper = helperFor(config, registry);
  if (helper) erased = await helperErase(helper, credentialKey(registry));
  if (keys.length > 0) {
    for (const key of keys) delete config.auths![key];
    await writeConfig(file, config);
    erased = true;
  }
  return erased;
}
