// cgroup file writing against fake hierarchies: this machine runs v1, so
// the v2 path is checked here by the files it writes (the real kernel path
// is covered by sandbox-run on whichever version the host has).
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupHandleFor, cgroupVersion, createCgroup, wasOomKilled } from '../runner-native/cgroup.js';
import { SandboxSetupError } from '../runner-native/errors.js';

const fakes: string[] = [];
test.after.always(() => { for (const dir of fakes) rmSync(dir, { recursive: true, force: true }); });

function fakeV2(): string {
  const root = mkdtempSync(join(tmpdir(), 'fake-cgroup2-'));
  fakes.push(root);
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  // a real kernel fills each new child's cgroup.controllers; the fake one does it up front
  mkdirSync(join(root, 'tsbuild'));
  writeFileSync(join(root, 'tsbuild', 'cgroup.controllers'), 'cpu memory pids\n');
  return root;
}

function fakeV1(controllers: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'fake-cgroup1-'));
  fakes.push(root);
  for (const c of controllers) {
    mkdirSync(join(root, c));
    writeFileSync(join(root, c, 'cgroup.procs'), '');
  }
  return root;
}

const read = (...p: string[]) => readFileSync(join(...p), 'utf8');

test('cgroup v2: controllers are delegated down the path and limits written', async (t) => {
  const root = fakeV2();
  t.is(cgroupVersion(root), 2);
  const h = await createCgroup('tsbuild/run1', {
    memory: { limit: 64 << 20, swap: 64 << 20 }, cpu: { quota: 50000, period: 100000, shares: 1024 }, pids: { limit: 20 },
  }, root);
  t.deepEqual(h.procsFiles, [join(root, 'tsbuild', 'run1', 'cgroup.procs')]);
  t.is(read(root, 'cgroup.subtree_control'), '+memory +cpu +pids');
  t.is(read(root, 'tsbuild', 'cgroup.subtree_control'), '+memory +cpu +pids');
  const dir = join(root, 'tsbuild', 'run1');
  t.is(read(dir, 'memory.max'), String(64 << 20));
  t.is(read(dir, 'memory.swap.max'), '0', 'v2 swap.max is swap only, OCI swap is memory+swap');
  t.is(read(dir, 'cpu.max'), '50000 100000');
  t.is(read(dir, 'cpu.weight'), '39');
  t.is(read(dir, 'pids.max'), '20');
});

test('cgroup v1: one dir per controller hierarchy, v1 file names', async (t) => {
  const root = fakeV1(['memory', 'cpu', 'pids']);
  t.is(cgroupVersion(root), 1);
  const h = await createCgroup('/tsbuild/run2', { memory: { limit: 1 << 26 }, cpu: { shares: 512 }, pids: { limit: 7 } }, root);
  t.deepEqual(h.dirs, ['memory', 'cpu', 'pids'].map((c) => join(root, c, 'tsbuild', 'run2')));
  t.is(h.memoryDir, join(root, 'memory', 'tsbuild', 'run2'));
  t.is(read(root, 'memory', 'tsbuild', 'run2', 'memory.limit_in_bytes'), String(1 << 26));
  t.is(read(root, 'cpu', 'tsbuild', 'run2', 'cpu.shares'), '512');
  t.is(read(root, 'pids', 'tsbuild', 'run2', 'pids.max'), '7');
});

test('cgroup v1: a limit for an unmounted controller is an error, not ignored', async (t) => {
  const root = fakeV1(['memory']);
  await t.throwsAsync(createCgroup('tsbuild/run3', { pids: { limit: 5 } }, root), { instanceOf: SandboxSetupError, message: /pids/ });
});

test('cgroup v1: device rules without a devices hierarchy are an error, never silently unconfined', async (t) => {
  const root = fakeV1(['memory']);
  await t.throwsAsync(createCgroup('tsbuild/run4', { devices: [{ allow: false, access: 'rwm' }] }, root),
    { instanceOf: SandboxSetupError, message: /devices cgroup controller is not mounted/ });
});

test('cgroup paths may not climb out of the hierarchy', (t) => {
  const root = fakeV1(['memory']);
  t.throws(() => cgroupHandleFor('tsbuild/../../etc', root), { instanceOf: SandboxSetupError });
  t.throws(() => cgroupHandleFor('/', root), { instanceOf: SandboxSetupError });
});

test('OOM kills are read from memory.events (v2) and memory.oom_control (v1)', async (t) => {
  const v2 = fakeV2();
  const h2 = await createCgroup('tsbuild/oom', {}, v2);
  writeFileSync(join(h2.memoryDir!, 'memory.events'), 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 0\n');
  t.false(await wasOomKilled(h2));
  writeFileSync(join(h2.memoryDir!, 'memory.events'), 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n');
  t.true(await wasOomKilled(h2));

  const v1 = fakeV1(['memory']);
  const h1 = await createCgroup('tsbuild/oom', {}, v1);
  writeFileSync(join(h1.memoryDir!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
  t.true(await wasOomKilled(h1));
});
