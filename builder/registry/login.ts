// `tsbuild login` / `logout` without the CLI: check credentials against a
// registry's `/v2/` endpoint, then keep them in the docker config.

import { RegistryClient } from './client.js';
import { eraseCredentials, storeCredentials, type Credentials } from './docker-config.js';
import { endpointsFor, loadRegistrySettings, registryFromServerArg, type RegistrySettings } from './settings.js';

export interface LoginOptions {
  settings?: RegistrySettings;
}

/** Verify and store; returns the registry name the credentials were stored under. */
export async function login(server: string | undefined, creds: Credentials, opts: LoginOptions = {}): Promise<string> {
  const registry = registryFromServerArg(server);
  const settings = opts.settings ?? (await loadRegistrySettings(undefined));
  const endpoint = endpointsFor(registry, settings, 'push').at(-1)!;
  // Login checks the registry itself, never a mirror; no repository scope is needed for /v2/.
  const client = await RegistryClient.create({ endpoint, repository: 'login-check', label: `login as "${creds.username}"`, actions: [], credentials: creds });
  await client.verifyLogin();
  await storeCredentials(registry, creds);
  return registry;
}

/** Forget the credentials of `server`; false when none were stored. */
export async function logout(server: string | undefined): Promise<{ registry: string; removed: boolean }> {
  const registry = registryFromServerArg(server);
  return { registry, removed: await eraseCredentials(registry) };
}
