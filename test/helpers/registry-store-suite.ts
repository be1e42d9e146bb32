// The set-up of an end-to-end file that pushes to a registry: one loopback
// docker-registry and one fresh store for the file, tests run serially;
// where builds or the registry cannot run, every test is a declared skip.
import test from 'ava';
import { buildSkipReason, freshStore } from './cli.js';
import { registrySkipReason, startRegistry, type RegistryServer } from './registry-server.js';

export interface RegistryStoreSuite {
  it: typeof test.serial | typeof test.skip;
  registry: RegistryServer;
  store: { root: string; dispose(): Promise<void> };
}

export function registryStoreSuite(title: string): RegistryStoreSuite {
  const skip = buildSkipReason() ?? registrySkipReason();
  if (skip) test.skip(`${title} (skipped: ${skip})`, () => {});
  const suite = { it: skip ? test.skip : test.serial } as RegistryStoreSuite;
  test.before(async () => {
    if (skip) return;
    suite.registry = await startRegistry();
    suite.store = await freshStore();
  });
  test.after.always(async () => {
    await suite.store?.dispose();
    await suite.registry?.stop();
  });
  return suite;
}
