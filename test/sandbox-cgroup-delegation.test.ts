// Rootless cgroup limits: finding the cgroup v2 subtree delegated to the
// user, on fake trees shaped like systemd's (this host's cgroups are v1, so
// a real delegated tree cannot be tested here); then the same v2 code root
// uses creates a run's cgroup and writes its limits, rooted at the delegated
// directory.
import test from 'ava';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createCgroup } from '../runner-native/cgroup.js';
import { findCgroupDelegation } from '../runner-native/cgroup-delegation.js';
import { needsRoot, runIf } from './helpers/skip.js';
import { tempDir } from './helpers/temp-dirs.js';

const USER = 4242;
const SERVICE = '/user.slice/user-4242.slice/user@4242.service';
const OWN = `${SERVICE}/app.slice/tsbuild.scope`;

// A v2 mount whose dirs down to user-4242.slice are root's and the service below is the user's.
async function fakeTree(opts: { controllers?: string; delegated?: boolean; busyService?: boolean } = {}): Promise<string> {
  const mount = await tempDir('tsbuild-cgroup-fake-');
  const dirs = ['', '/user.slice', '/user.slice/user-4242.slice', SERVICE, `${SERVICE}/app.slice`, OWN];
  for (const rel of dirs) {
    const dir = path.join(mount, rel);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'cgroup.controllers'), rel === '' || rel.startsWith(SERVICE) ? `${opts.controllers ?? 'cpu memory pids'}\n` : 'cpu memory pids\n');
    await writeFile(path.join(dir, 'cgroup.subtree_control'), '');
    await writeFile(path.join(dir, 'cgroup.procs'), rel === OWN || (rel === SERVICE && opts.busyService) ? '1234\n' : '');
    if (rel.startsWith(SERVICE) && opts.delegated !== false) {
      for (const f of ['', 'cgroup.controllers', 'cgroup.subtree_control', 'cgroup.procs']) await chown(path.join(dir, f), USER, USER);
    }
  }
  return mount;
}

const selfCgroup = `0::${OWN}\n`;
const it = runIf(needsRoot('needs root (to give the fake tree a root-owned top and a user-owned subtree)'));

it('the topmost user-owned cgroup above our own is the delegated root, with its controllers', async (t) => {
  const mount = await fakeTree();
  const d = findCgroupDelegation({ mount, uid: USER, procSelfCgroup: selfCgroup });
  t.deepEqual(d, { ok: true, dir: path.join(mount, SERVICE), controllers: ['cpu', 'memory', 'pids'] });
});

it('limits are written by the same v2 code as root, under the delegated dir', async (t) => {
  const mount = await fakeTree();
  const d = findCgroupDelegation({ mount, uid: USER, procSelfCgroup: selfCgroup });
  if (!d.ok) return t.fail(d.reason);
  // what the kernel puts in a new cgroup dir (an earlier run made tsbuild/)
  await mkdir(path.join(d.dir, 'tsbuild'));
  await writeFile(path.join(d.dir, 'tsbuild/cgroup.controllers'), 'cpu memory pids\n');
  const handle = await createCgroup('tsbuild/run1', { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 }, cpu: { quota: 50000, period: 100000 } }, d.dir);
  const dir = path.join(mount, SERVICE, 'tsbuild/run1');
  t.deepEqual(handle.procsFiles, [path.join(dir, 'cgroup.procs')]);
  t.is(await readFile(path.join(dir, 'memory.max'), 'utf8'), String(64 * 1024 * 1024));
  t.is(await readFile(path.join(dir, 'pids.max'), 'utf8'), '50');
  t.is(await readFile(path.join(dir, 'cpu.max'), 'utf8'), '50000 100000');
  // the controllers are enabled down the delegated path, nothing above it is touched
  t.is(await readFile(path.join(mount, SERVICE, 'cgroup.subtree_control'), 'utf8'), '+memory +cpu +pids');
  t.is(await readFile(path.join(mount, SERVICE, 'tsbuild/cgroup.subtree_control'), 'utf8'), '+memory +cpu +pids');
  t.is(await readFile(path.join(mount, 'user.slice/user-4242.slice/cgroup.subtree_control'), 'utf8'), '');
});

it('not delegated: our cgroup is root\'s (a login session scope) → a reason naming systemd\'s delegation', async (t) => {
  const mount = await fakeTree({ delegated: false });
  const d = findCgroupDelegation({ mount, uid: USER, procSelfCgroup: selfCgroup });
  t.false(d.ok);
  if (!d.ok) t.regex(d.reason, /is not delegated to this user \(systemd: user@\.service with Delegate=yes/);
});

it('a delegated subtree without the memory controller → a reason naming Delegate=', async (t) => {
  const mount = await fakeTree({ controllers: 'cpu pids' });
  const d = findCgroupDelegation({ mount, uid: USER, procSelfCgroup: selfCgroup });
  t.false(d.ok);
  if (!d.ok) t.regex(d.reason, /lacks the memory controller \(systemd: Delegate=memory pids cpu\)/);
});

it('a delegated root that holds processes and has not enabled the controllers → a reason', async (t) => {
  const mount = await fakeTree({ busyService: true });
  const d = findCgroupDelegation({ mount, uid: USER, procSelfCgroup: selfCgroup });
  t.false(d.ok);
  if (!d.ok) t.regex(d.reason, /holds processes itself/);
});

test('a cgroup v1 mount (this kind of host) → a reason, never a failure', async (t) => {
  const mount = await tempDir('tsbuild-cgroup-v1-');
  await mkdir(path.join(mount, 'memory'), { recursive: true });
  await writeFile(path.join(mount, 'memory/cgroup.procs'), '');
  const d = findCgroupDelegation({ mount, uid: USER, procSelfCgroup: '12:memory:/user.slice\n0::/user.slice\n' });
  t.false(d.ok);
  if (!d.ok) t.regex(d.reason, /is not a cgroup v2 hierarchy/);
});
