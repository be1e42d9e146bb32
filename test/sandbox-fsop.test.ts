// The fsop helper (`tsbuild-sandbox fsop`): device nodes, binary xattrs and
// overlay mounts by syscall, confined to a root by openat2(RESOLVE_IN_ROOT),
// many requests pipelined to one process; private mounts are invisible to
// the host and vanish with the helper.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultHelperPath } from '../runner-native/availability.js';
import { FsopError, FsopHelper } from '../runner-native/fsop.js';
import { tempDir } from './helpers/temp-dirs.js';
import { runIf } from './helpers/skip.js';

const skip = process.getuid?.() !== 0 ? 'needs root (mknod, trusted.* xattrs, mounts)'
  : !existsSync(defaultHelperPath()) ? `needs the native helper ${defaultHelperPath()} (npm run build)` : undefined;
const it = runIf(skip);

const mountinfo = async () => readFile('/proc/self/mountinfo', 'utf8');

it('creates nodes with exact mode and owner; binary xattrs round-trip, listed as a tree', async (t) => {
  const root = await tempDir('fsop-');
  await mkdir(path.join(root, 'a/b'), { recursive: true });
  const h = new FsopHelper(false);
  try {
    await h.mknod(root, 'a/b/null', { kind: 'char', mode: 0o640, major: 1, minor: 3, uid: 7, gid: 8 });
    await h.mknod(root, 'a/pipe', { kind: 'fifo', mode: 0o4711, uid: 0, gid: 0 });
    const dev = await lstat(path.join(root, 'a/b/null'));
    t.true(dev.isCharacterDevice());
    t.is(dev.mode & 0o7777, 0o640);
    t.deepEqual([dev.uid, dev.gid, dev.rdev], [7, 8, 0x103]);
    const fifo = await lstat(path.join(root, 'a/pipe'));
    t.true(fifo.isFIFO());
    t.is(fifo.mode & 0o7777, 0o4711, 'umask ignored, setuid kept');

    const binary = Buffer.from([0, 0xff, 0x0a, 0x3d, 0x80]);
    for (let i = 0; i < 200; i++) await writeFile(path.join(root, `a/b/f${i}`), '');
    // Pipelined: all in flight at once, answered in order.
    await Promise.all([
      h.setXattr(root, 'a/b/null', 'trusted.bin', binary),
      h.setXattr(root, '', 'user.top', Buffer.from('root')),
      h.setXattr(root, 'a', 'trusted.overlay.opaque', Buffer.from('y')),
      ...Array.from({ length: 200 }, (_, i) => h.setXattr(root, `a/b/f${i}`, 'user.n', Buffer.from(String(i)))),
    ]);
    t.deepEqual(await h.getXattr(root, 'a/b/null', 'trusted.bin'), binary);
    t.is(await h.getXattr(root, 'a/b', 'trusted.overlay.opaque'), null);
    const tree = await h.xattrTree(root);
    t.deepEqual(tree.get('a/b/null')?.get('trusted.bin'), binary);
    t.is(tree.get('')?.get('user.top')?.toString(), 'root');
    t.is(tree.get('a')?.get('trusted.overlay.opaque')?.toString(), 'y');
    t.is(tree.get('a/b/f199')?.get('user.n')?.toString(), '199');
    t.is([...tree.keys()].filter((k) => k.startsWith('a/b/f')).length, 200);
    t.false(tree.has('a/pipe'));
  } finally {
    h.close();
  }
});

it('paths resolve inside the root: a symlink to / or .. cannot reach the host', async (t) => {
  const root = await tempDir('fsop-');
  const outside = await tempDir('fsop-outside-');
  await symlink(outside, path.join(root, 'abs'));
  await symlink('../../../../../..' + outside, path.join(root, 'rel'));
  await mkdir(path.join(root, outside), { recursive: true }); // where "abs" lands inside the root
  const h = new FsopHelper(false);
  try {
    await h.mknod(root, 'abs/node', { kind: 'fifo', mode: 0o600, uid: 0, gid: 0 });
    await h.mknod(root, 'rel/node2', { kind: 'fifo', mode: 0o600, uid: 0, gid: 0 });
    t.deepEqual(await readdir(outside), [], 'nothing was created outside the root');
    t.true((await lstat(path.join(root, outside, 'node'))).isFIFO());
    t.true((await lstat(path.join(root, outside, 'node2'))).isFIFO());
    // The last component is never followed: the xattr lands on the link itself.
    await writeFile(path.join(outside, 'target'), 'x');
    await symlink(path.join(outside, 'target'), path.join(root, 'link'));
    await h.setXattr(root, 'link', 'trusted.mark', Buffer.from('1'));
    t.is((await h.xattrTree(outside)).size, 0);
    const err = await t.throwsAsync(h.mknod(root, 'missing/x', { kind: 'fifo', mode: 0o600, uid: 0, gid: 0 }));
    t.true(err instanceof FsopError);
    t.is((err as FsopError).code, 'ENOENT');
  } finally {
    h.close();
  }
});

it('a private helper mounts where only its /proc/<pid>/root shows it, and the mount dies with it', async (t) => {
  const root = await tempDir('fsop-');
  for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(path.join(root, d));
  await writeFile(path.join(root, 'lower/f'), 'lower');
  const h = new FsopHelper(true);
  const merged = path.join(root, 'merged');
  await h.mount(root, 'merged', 'overlay', 'overlay', `lowerdir=${root}/lower,upperdir=${root}/upper,workdir=${root}/work`);
  t.false((await mountinfo()).includes(merged), 'not in the host mount table');
  t.deepEqual(await readdir(merged), []);
  t.is(await readFile(path.join(h.viewPath(merged), 'f'), 'utf8'), 'lower');
  await writeFile(path.join(h.viewPath(merged), 'new'), 'n');
  t.deepEqual(await readdir(path.join(root, 'upper')), ['new']);
  const pid = h.pid;
  h.close();
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 20));
  t.false(existsSync(`/proc/${pid}/root`));
  t.false((await mountinfo()).includes(merged));
});
