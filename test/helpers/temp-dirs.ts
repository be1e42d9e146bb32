// Temp dirs of a test file, removed when the file's worker process exits, so
// runs of the suite do not pile up directories in /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mountsUnder } from './host-state.js';

const created: string[] = [];

// Each test file runs in its own worker process (ava forks one per file), so
// `created` only ever holds this file's dirs, and at 'exit' every test and
// every `after.always` hook of the file is done: nothing still uses them
// (a container's bind source, a store being cleaned). Not an ava
// `after.always` hook: a helper that declares one while it is imported makes
// ava start the file at the next tick, and a file that awaits at top level
// before its own tests (container-cli, sandbox-run, ...) then fails to declare
// them; ava also runs the `after.always` hooks concurrently, so one of ours
// could remove a store while the file's own hook still removes containers
// from it.
process.once('exit', () => {
  for (const dir of created.splice(0)) {
    if (!stillMounted(dir)) rmSync(dir, { recursive: true, force: true });
  }
});

/** A new dir under the OS temp dir, removed when the test file is done (or earlier with removeTempDir). */
export async function tempDir(prefix = 'tsbuild-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** tempDir, for a file that must declare its tests in the first tick. */
export function tempDirSync(prefix = 'tsbuild-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** `rm -rf dir` now, unless something is still mounted under it (see stillMounted). */
export async function removeTempDir(dir: string): Promise<void> {
  if (!stillMounted(dir)) await rm(dir, { recursive: true, force: true });
}

// A recursive rm walks into a mount and deletes what it shows (a
// bind-mounted host dir, an overlay's merged view). Such a dir is left in
// place and named in a warning: the mount is a leak that the cleanup tests
// are there to catch.
function stillMounted(dir: string): boolean {
  const mounts = mountsUnder(dir);
  if (mounts.length > 0) console.warn(`not removing ${dir}: still mounted under it: ${mounts.join(', ')}`);
  return mounts.length > 0;
}
