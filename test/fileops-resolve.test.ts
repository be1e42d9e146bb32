import test from 'ava';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveInRoot } from '../builder/fileops/resolve.js';
import { mkdirAllInRoot } from '../builder/fileops/fs-write.js';
import { tempDir } from './helpers/temp-dirs.js';

async function hostileRoot(): Promise<{ root: string; canary: string }> {
  const base = await tempDir('resolve-');
  const root = path.join(base, 'rootfs');
  const canary = path.join(base, 'host-etc');
  await mkdir(path.join(root, 'usr/lib'), { recursive: true });
  await mkdir(canary);
  await writeFile(path.join(canary, 'passwd'), 'HOST');
  await symlink(canary, path.join(root, 'etc')); // /etc -> /…/host-etc (absolute host path)
  await symlink('../../..', path.join(root, 'usr/up')); // climbs above the root
  await symlink('/usr/lib', path.join(root, 'lib')); // absolute, inside the image
  await symlink('loop2', path.join(root, 'loop1'));
  await symlink('loop1', path.join(root, 'loop2'));
  return { root, canary };
}

test('absolute symlink targets resolve under the root', async (t) => {
  const { root } = await hostileRoot();
  const r = await resolveInRoot(root, '/lib/x.so');
  t.is(r.inRoot, '/usr/lib/x.so');
  t.is(r.host, path.join(root, 'usr/lib/x.so'));
  t.false(r.exists);
  t.is(r.linksFollowed, 1);
});

test('a link to a host path is re-rooted, never followed to the host', async (t) => {
  const { root, canary } = await hostileRoot();
  const r = await resolveInRoot(root, '/etc/passwd');
  t.is(r.inRoot, `${canary}/passwd`);
  t.true(r.host.startsWith(`${root}/`));
  t.false(r.exists);
});

test('".." in paths and in link targets never climbs above the root', async (t) => {
  const { root } = await hostileRoot();
  t.is((await resolveInRoot(root, '../../../x')).inRoot, '/x');
  t.is((await resolveInRoot(root, '/usr/up/etc')).inRoot.startsWith('/'), true);
  t.true((await resolveInRoot(root, '/usr/up/tmp')).host.startsWith(root));
  t.is((await resolveInRoot(root, '/usr/up')).inRoot, '/');
});

test('followFinal: false keeps a final symlink', async (t) => {
  const { root } = await hostileRoot();
  t.is((await resolveInRoot(root, '/lib', { followFinal: false })).inRoot, '/lib');
  t.is((await resolveInRoot(root, '/lib', { followFinal: true })).inRoot, '/usr/lib');
  // A symlink followed by ".." is not final: it must be expanded first.
  t.is((await resolveInRoot(root, '/lib/..', { followFinal: false })).inRoot, '/usr');
});

test('symlink loops are an error', async (t) => {
  const { root } = await hostileRoot();
  const err = await t.throwsAsync(resolveInRoot(root, '/loop1/x'));
  t.is((err as unknown as { code: string }).code, 'SYMLINK_LOOP');
});

test('mkdirAllInRoot through hostile links creates only inside the root', async (t) => {
  const { root, canary } = await hostileRoot();
  const made = await mkdirAllInRoot(root, '/etc/app/conf.d', { mode: 0o755, owner: null });
  t.true(made.host.startsWith(`${root}/`));
  const made2 = await mkdirAllInRoot(root, '/usr/up/evil', { mode: 0o755, owner: null });
  t.is(made2.inRoot, '/evil');
  t.deepEqual(await readdir(canary), ['passwd']);
  t.is(await readFile(path.join(canary, 'passwd'), 'utf8'), 'HOST');
});
