// Set-up shared by the container command tests (tty, exec, lifecycle, ...):
// one throwaway store per test file with the busybox fixture image loaded,
// every container removed at the end, and tests skipped with the reason
// where containers cannot run.
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sandboxAvailability } from '../runner-native/index.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { busyboxAvailable } from '../fixtures/base-images/busybox-rootfs.js';
import { tsbuild, type CliResult } from './helpers/cli.js';
import type { ContainerState } from '../builder/containers/container-store.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

export interface ContainerSuite {
  root: string;
  e2e(title: string, fn: (t: ExecutionContext) => Promise<void>): void;
  cli(...args: string[]): Promise<CliResult>;
  stateOf(id: string): ContainerState;
  /** polls `check` until it holds (or the time is up), returning its last value */
  eventually<T>(probe: () => Promise<T>, check: (v: T) => boolean, seconds?: number): Promise<T>;
}

export async function containerSuite(prefix: string): Promise<ContainerSuite> {
  const availability = await sandboxAvailability();
  const skipReason = !availability.ok ? availability.reason : !busyboxAvailable() ? '/bin/busybox is missing (busybox-static)' : null;
  const root = await tempDir(prefix);
  if (!skipReason) await loadBusyboxImage('busybox:latest', root);
  const cli = (...args: string[]) => tsbuild(args, { root });
  test.after.always(async () => {
    if (!skipReason) {
      const ids = (await cli('ps', '-a', '-q')).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await cli('rm', '-f', ...ids);
    }
    await removeTempDir(root);
  });
  return {
    root,
    e2e: (title, fn) => (skipReason ? test.skip(`${title} (skipped: ${skipReason})`, () => undefined) : test.serial(title, fn)),
    cli,
    stateOf: (id) => JSON.parse(readFileSync(path.join(root, 'containers', id, 'state.json'), 'utf8')) as ContainerState,
    async eventually(probe, check, seconds = 10) {
      const deadline = Date.now() + seconds * 1000;
      for (;;) {
        const v = await probe();
        if (check(v) || Date.now() > deadline) return v;
        await sleep(100);
      }
    },
  };
}
