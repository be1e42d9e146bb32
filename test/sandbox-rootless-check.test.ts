// The prerequisites of rootless mode, each failure one line with its fix,
// checked against files the test writes (the machine's own are used e2e).
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkRootless, subordinateRange } from '../runner-native/user-namespace.js';

const user = os.userInfo().username;
const uid = process.getuid!();
const gid = process.getgid!();

async function fakeSystem(t: { teardown(fn: () => Promise<void>): void }, opts: { subuid?: string; clone?: string; max?: string }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-rootless-check-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const proc = path.join(dir, 'proc');
  await mkdir(path.join(proc, 'kernel'), { recursive: true });
  await mkdir(path.join(proc, 'user'), { recursive: true });
  if (opts.clone !== undefined) await writeFile(path.join(proc, 'kernel/unprivileged_userns_clone'), opts.clone);
  if (opts.max !== undefined) await writeFile(path.join(proc, 'user/max_user_namespaces'), opts.max);
  await writeFile(path.join(dir, 'subuid'), opts.subuid ?? '');
  await writeFile(path.join(dir, 'subgid'), opts.subuid ?? '');
  // newuidmap/newgidmap as (empty) executables on a PATH of our own
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  for (const tool of ['newuidmap', 'newgidmap']) await writeFile(path.join(bin, tool), '', { mode: 0o755 });
  return { files: { subuid: path.join(dir, 'subuid'), subgid: path.join(dir, 'subgid'), proc }, env: { PATH: bin } };
}

test('a range by name or by uid maps container root to the user and 1..65535 onto the range', async (t) => {
  const sys = await fakeSystem(t, { subuid: `other:100000:65536\n${uid}:200000:65536\n` });
  const check = checkRootless(sys.env, sys.files);
  t.deepEqual(check, { ok: true, maps: { uidMap: `0 ${uid} 1 1 200000 65535`, gidMap: `0 ${gid} 1 1 200000 65535` } });
  t.deepEqual(subordinateRange(`${user}:300000:1000\n`, user, uid), { start: 300000, count: 1000 });
});

test('no range: the usermod command with a range after those already given', async (t) => {
  const sys = await fakeSystem(t, { subuid: 'other:100000:65536\n' });
  const check = checkRootless(sys.env, sys.files);
  t.false(check.ok);
  if (!check.ok) t.is(check.reason, `user ${user} has no subordinate id range in ${sys.files.subuid}: add one with \`sudo usermod --add-subuids 165536-231071 --add-subgids 165536-231071 ${user}\``);
});

test('user namespaces disabled: the sysctl to enable them', async (t) => {
  const debian = checkRootless((await fakeSystem(t, { clone: '0\n' })).env, (await fakeSystem(t, { clone: '0\n' })).files);
  t.false(debian.ok);
  if (!debian.ok) t.regex(debian.reason, /sysctl -w kernel\.unprivileged_userns_clone=1/);
  const sys = await fakeSystem(t, { max: '0\n' });
  const none = checkRootless(sys.env, sys.files);
  t.false(none.ok);
  if (!none.ok) t.regex(none.reason, /sysctl -w user\.max_user_namespaces=/);
});

test('newuidmap missing: the package to install', async (t) => {
  const sys = await fakeSystem(t, { subuid: `${user}:100000:65536\n` });
  const check = checkRootless({ PATH: '/nonexistent' }, sys.files);
  t.false(check.ok);
  if (!check.ok) t.regex(check.reason, /^newuidmap is missing: install it with `sudo apt-get install uidmap`/);
});
