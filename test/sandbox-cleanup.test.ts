// What happens when tsbuild itself is kill -9ed mid-run: the kernel must
// take the container down with it, and cleanupStale must remove the rest.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { ABANDONED_CGROUP_MS, removeAbandonedCgroups } from '../runner-native/abandoned-cgroups.js';
import { cgroupHandleFor, removeCgroupDir } from '../runner-native/cgroup.js';
import { Sandbox } from '../runner-native/sandbox.js';
import { defaultSpec } from '../runner-native/spec.js';
import { cleanupStale, createRunDir, processStartTime } from '../runner-native/state.js';
import { busyboxMissing, makeOverlayDirs, writeBusyboxLayer } from '../runner-native/testing/busybox-rootfs.js';
import { hostState, newSince, removeCgroupParent } from '../runner-native/testing/host-state.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

const base = await tempDir('tsbuild-runner-cleanup-');
const stateDir = join(base, 'state');
const cgroupParent = `tsbuild-test-${process.pid}`;
const sandbox = new Sandbox({ stateDir, cgroupParent });
const watched = { base, helperPath: sandbox.helperPath, stateDir, cgroupParent };
const availability = await sandbox.available();
const skipReason = busyboxMissing() ?? (availability.ok ? null : availability.reason);
test.after.always(async () => {
  await removeTempDir(base);
  removeCgroupParent(cgroupParent);
});

const sandboxModule = pathToFileURL(join(import.meta.dirname, '..', 'runner-native', 'sandbox.js')).href;
const specModule = pathToFileURL(join(import.meta.dirname, '..', 'runner-native', 'spec.js')).href;

test('cleanupStale leaves the runs of live processes alone and skips what it cannot explain', async (t) => {
  const dir = join(base, 'state-live');
  await createRunDir(dir, { id: 'live', ownerPid: process.pid, ownerStartTime: processStartTime(process.pid)!, cgroupsPath: 'tsbuild/never-created' });
  mkdirSync(join(dir, 'foreign'));
  t.deepEqual(await cleanupStale(dir), []);
  t.true(existsSync(join(dir, 'live')));
  t.true(existsSync(join(dir, 'foreign')));
});

test('cleanupStale removes the run dir of a dead owner', async (t) => {
  const dir = join(base, 'state-dead');
  // a pid that is (almost certainly) not running, with a start time nobody has
  await createRunDir(dir, { id: 'dead', ownerPid: 2 ** 22 - 3, ownerStartTime: '1', cgroupsPath: 'tsbuild/tsbuild-test-never-created' });
  t.deepEqual(await cleanupStale(dir), ['dead']);
  t.false(existsSync(join(dir, 'dead')));
});

const killTest = skipReason ? test.skip : test.serial;
killTest(`kill -9 of tsbuild takes the container down; cleanupStale removes the rest${skipReason ? ` (skipped: ${skipReason})` : ''}`, async (t) => {
  const lower = join(base, 'lower');
  writeBusyboxLayer(lower);
  const dirs = await makeOverlayDirs(base, [lower]);
  const owner = join(base, 'owner.mjs');
  writeFileSync(owner, `
    import { Sandbox } from ${JSON.stringify(sandboxModule)};
    import { defaultSpec } from ${JSON.stringify(specModule)};
    const spec = defaultSpec({ args: ['sh', '-c', 'sleep 1000 & sleep 1000 & echo started; sleep 1000'],
      rootPath: ${JSON.stringify(dirs.merged)}, rootLayers: ${JSON.stringify(dirs)}, resources: { pids: { limit: 50 } } });
    await new Sandbox({ stateDir: ${JSON.stringify(stateDir)}, cgroupParent: ${JSON.stringify(cgroupParent)} }).run(spec, { stdout: 'inherit' });
  `);
  const before = hostState(watched);
  const child = spawn(process.execPath, [owner], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('started')) resolve(); });
    child.on('exit', () => reject(new Error('the owner process ended before the container started')));
  });
  const during = newSince(before, hostState(watched));
  t.true(during.processes.length >= 4, 'helper, sh and two sleeps are running');
  t.is(during.cgroups.length > 0, true);

  child.kill('SIGKILL');
  let left = during;
  for (let i = 0; i < 100; i++) {
    await sleep(50);
    left = newSince(before, hostState(watched));
    if (left.processes.length === 0) break;
  }
  t.deepEqual(left.processes, [], 'no process of the container outlives its owner');
  t.deepEqual(left.mounts, [], 'the overlay vanished with the mount namespace');
  t.true(left.cgroups.length > 0 && left.stateEntries.length === 1, 'empty cgroups and the run dir are what remains');

  const cleaned = await cleanupStale(stateDir);
  t.deepEqual(cleaned, left.stateEntries);
  t.deepEqual(newSince(before, hostState(watched)), { mounts: [], cgroups: [], processes: [], stateEntries: [] });
});

const cgroupTest = skipReason ? test.skip : test.serial;
const ageOut = (dirs: string[]) => { const old = new Date(Date.now() - 2 * ABANDONED_CGROUP_MS); for (const d of dirs) utimesSync(d, old, old); };
const makeCgroup = (id: string) => {
  const dirs = cgroupHandleFor(`${cgroupParent}/${id}`).dirs;
  for (const d of dirs) mkdirSync(d, { recursive: true });
  return dirs;
};

cgroupTest(`only empty run cgroups older than a minute are taken for abandoned${skipReason ? ` (skipped: ${skipReason})` : ''}`, async (t) => {
  const abandoned = makeCgroup('a0a0a0a0a0a0a0a0');
  ageOut(abandoned);
  const fresh = makeCgroup('b1b1b1b1b1b1b1b1');
  const container = makeCgroup('ctr-c2c2c2c2');
  ageOut(container);
  const busy = makeCgroup('d3d3d3d3d3d3d3d3');
  ageOut(busy);
  const sleeper = spawn('sleep', ['100'], { stdio: 'ignore' });
  try {
    writeFileSync(join(busy[0]!, 'cgroup.procs'), String(sleeper.pid));
    t.deepEqual(removeAbandonedCgroups(cgroupParent), ['a0a0a0a0a0a0a0a0']);
    t.false(abandoned.some(existsSync), 'the old empty run cgroup is gone from every hierarchy');
    t.true(fresh.every(existsSync), 'a cgroup a run may be about to join stays');
    t.true(container.every(existsSync), 'containers have their own reaper');
    t.true(busy.every(existsSync), 'a cgroup with a process in it stays');
  } finally {
    sleeper.kill('SIGKILL');
    await new Promise((resolve) => sleeper.once('exit', resolve));
    for (const dir of [...fresh, ...container, ...busy]) await removeCgroupDir(dir);
  }
});

cgroupTest(`a sandbox's first run removes abandoned run cgroups${skipReason ? ` (skipped: ${skipReason})` : ''}`, async (t) => {
  const abandoned = makeCgroup('e4e4e4e4e4e4e4e4');
  ageOut(abandoned);
  const lower = join(base, 'lower-sweep');
  writeBusyboxLayer(lower);
  const dirs = await makeOverlayDirs(base, [lower]);
  const result = await new Sandbox({ stateDir, cgroupParent }).run(defaultSpec({ args: ['true'], rootPath: dirs.merged, rootLayers: dirs }));
  t.is(result.exitCode, 0);
  t.false(abandoned.some(existsSync));
});
