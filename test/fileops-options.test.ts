import test from 'ava';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BuildContext } from '../builder/context/context.js';
import { copy, type CopyOp } from '../builder/fileops/copy.js';
import { applyMode, parseChmod } from '../builder/fileops/mode.js';
import { tempDir } from './helpers/temp-dirs.js';
import { runIf } from './helpers/skip.js';

const isRoot = process.getuid?.() === 0;
const codeOf = (err: unknown): string | undefined => (err as { code?: string } | undefined)?.code;

async function makeTree(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('copyopt-');
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1500:1600:App:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\nstaff:x:50:\napp:x:1600:\n';

async function setup(context: Record<string, string>, dest: Record<string, string> = {}) {
  const ctxDir = await makeTree(context);
  const destRoot = await makeTree({ 'etc/passwd': PASSWD, 'etc/group': GROUP, ...dest });
  const source = await BuildContext.open(ctxDir);
  const run = (op: Partial<CopyOp> & Pick<CopyOp, 'sources' | 'dest'>) => copy({ instruction: 'COPY', ...op }, { destRoot, source });
  const st = (p: string) => lstat(path.join(destRoot, p));
  const read = (p: string) => readFile(path.join(destRoot, p), 'utf8');
  return { ctxDir, destRoot, run, st, read };
}

runIf(isRoot ? undefined : 'ownership needs root')('--chown by name uses the destination /etc/passwd and /etc/group', async (t) => {
  const s = await setup({ 'd/f': 'F' });
  await s.run({ sources: ['d'], dest: '/new/deep/', chown: 'app' });
  await s.run({ sources: ['d/f'], dest: '/g', chown: 'app:staff' });
  await s.run({ sources: ['d/f'], dest: '/n', chown: '42' });
  await s.run({ sources: ['d/f'], dest: '/m', chown: '42:staff' });
  const owner = async (p: string) => {
    const st = await s.st(p);
    return [st.uid, st.gid];
  };
  t.deepEqual(await owner('new/deep/f'), [1500, 1600]); // primary group of "app"
  t.deepEqual(await owner('new/deep'), [1500, 1600]); // created dest dirs are chowned too
  t.deepEqual(await owner('new'), [1500, 1600]);
  t.deepEqual(await owner('g'), [1500, 50]);
  t.deepEqual(await owner('n'), [42, 42]); // a numeric user alone sets gid = uid
  t.deepEqual(await owner('m'), [42, 50]);
});

test('--chown with an unknown name is a user error and writes nothing', async (t) => {
  const s = await setup({ f: 'F' });
  const err = await t.throwsAsync(s.run({ sources: ['f'], dest: '/out/', chown: 'nobody' }));
  t.is(codeOf(err), 'UNKNOWN_USER');
  t.regex(err!.message, /nobody/);
  const err2 = await t.throwsAsync(s.run({ sources: ['f'], dest: '/out/', chown: 'app:nogroup' }));
  t.is(codeOf(err2), 'UNKNOWN_GROUP');
  await t.throwsAsync(stat(path.join(s.destRoot, 'out')));
});

test('--chown names are never read through a hostile /etc symlink', async (t) => {
  const hostEtc = await makeTree({ passwd: 'evil:x:666:666::/:/bin/sh\n' });
  const ctxDir = await makeTree({ f: 'F' });
  const destRoot = await tempDir('copyopt-');
  await symlink(hostEtc, path.join(destRoot, 'etc'));
  const err = await t.throwsAsync(
    copy({ instruction: 'COPY', sources: ['f'], dest: '/', chown: 'evil' }, { destRoot, source: await BuildContext.open(ctxDir) }),
  );
  t.is(codeOf(err), 'UNKNOWN_USER');
});

test('--chmod octal applies to copied files and dirs, not to the dirs COPY creates', async (t) => {
  const s = await setup({ 'd/f': 'F', 'd/sub/g': 'G' });
  await s.run({ sources: ['d'], dest: '/p/q/', chmod: '750' });
  t.is((await s.st('p/q/f')).mode & 0o7777, 0o750);
  t.is((await s.st('p/q/sub')).mode & 0o7777, 0o750);
  t.is((await s.st('p/q')).mode & 0o7777, 0o755); // the destination dir COPY created: 0755 as BuildKit 0.13
  t.is((await s.st('p')).mode & 0o7777, 0o755);
  await s.run({ sources: ['d/f'], dest: '/r/s/f', chmod: '600' });
  t.is((await s.st('r/s/f')).mode & 0o7777, 0o600);
  t.is((await s.st('r/s')).mode & 0o7777, 0o755);
  const err = await t.throwsAsync(s.run({ sources: ['d'], dest: '/x/', chmod: '99999' }));
  t.is(codeOf(err), 'INVALID_CHMOD');
  const err2 = await t.throwsAsync(s.run({ sources: ['d'], dest: '/x/', chmod: 'u+q' }));
  t.is(codeOf(err2), 'INVALID_CHMOD');
});

test('--chmod symbolic: +x, u=rwX,go=rX, g=u', async (t) => {
  const cases: Array<[string, number, boolean, number]> = [
    ['+x', 0o644, false, 0o755],
    ['u=rwX,go=rX', 0o600, false, 0o644],
    ['u=rwX,go=rX', 0o700, false, 0o755],
    ['u=rwX,go=rX', 0o600, true, 0o755],
    ['g=u', 0o640, false, 0o660],
    ['o-rwx', 0o777, false, 0o770],
    ['u+s', 0o755, false, 0o4755],
    ['a=r', 0o777, false, 0o444],
  ];
  for (const [spec, from, isDir, expected] of cases) {
    t.is(applyMode(parseChmod(spec), from, isDir).toString(8), expected.toString(8), `${spec} on ${from.toString(8)}`);
  }
  const s = await setup({ 'tool.sh': '#!' });
  await s.run({ sources: ['tool.sh'], dest: '/bin/', chmod: '+x' });
  t.is((await s.st('bin/tool.sh')).mode & 0o777, 0o755);
});

test('--parents keeps the source structure, with a /./ pivot and ** patterns', async (t) => {
  const s = await setup({ 'x/a.txt': 'xa', 'y/a.txt': 'ya', 'x/y/b.txt': 'b', 'x/y/c.md': 'c', 'src/a.txt': '1', 'src/k/b.txt': '2', 'src/k/l/c.txt': '3', 'src/k/d.go': 'go' });
  await s.run({ sources: ['./x/a.txt', './y/a.txt'], dest: '/parents/', parents: true });
  t.is(await s.read('parents/x/a.txt'), 'xa');
  t.is(await s.read('parents/y/a.txt'), 'ya');
  await s.run({ sources: ['./x/./y/*.txt'], dest: '/pivot/', parents: true });
  t.deepEqual(await readdir(path.join(s.destRoot, 'pivot')), ['y']);
  t.deepEqual(await readdir(path.join(s.destRoot, 'pivot/y')), ['b.txt']);
  await s.run({ sources: ['./src/**/*.txt'], dest: '/deep/', parents: true });
  t.is(await s.read('deep/src/a.txt'), '1');
  t.is(await s.read('deep/src/k/l/c.txt'), '3');
  await t.throwsAsync(stat(path.join(s.destRoot, 'deep/src/k/d.go')));
  const err = await t.throwsAsync(s.run({ sources: ['./x/missing.txt'], dest: '/p2/', parents: true }));
  t.is(codeOf(err), 'SOURCE_NOT_FOUND');
});

test('--exclude patterns are relative to each copied source', async (t) => {
  const s = await setup({ 'dir1/a.txt': 'a', 'dir1/b.png': 'b', 'dir1/sub/c.txt': 'c', 'dir2/d.mp3': 'd', 'dir2/e.txt': 'e', 'top.txt': 't' });
  await s.run({ sources: ['.'], dest: '/1/', exclude: ['*/*.png', '*.txt'] });
  t.is(await s.read('1/dir1/a.txt'), 'a');
  await t.throwsAsync(stat(path.join(s.destRoot, '1/dir1/b.png')));
  await t.throwsAsync(stat(path.join(s.destRoot, '1/top.txt')));
  await s.run({ sources: ['dir*'], dest: '/2/', exclude: ['*.mp3', 'sub'] });
  t.deepEqual((await readdir(path.join(s.destRoot, '2'))).sort(), ['a.txt', 'b.png', 'e.txt']);
  await s.run({ sources: ['dir1'], dest: '/3/', exclude: ['**/*.txt', '!sub/c.txt'] });
  t.deepEqual((await readdir(path.join(s.destRoot, '3'))).sort(), ['b.png', 'sub']);
  t.is(await s.read('3/sub/c.txt'), 'c');
});

test('heredoc sources become files named after the heredoc', async (t) => {
  const s = await setup({});
  const r = await s.run({
    sources: [{ heredoc: { name: 'hello.sh', content: 'echo hi\n', mode: 0o755 } }, { heredoc: { name: 'EOF', content: 'plain' } }],
    dest: '/opt/',
  });
  t.is(await s.read('opt/hello.sh'), 'echo hi\n');
  t.is((await s.st('opt/hello.sh')).mode & 0o7777, 0o755);
  t.is(await s.read('opt/EOF'), 'plain');
  t.is((await s.st('opt/EOF')).mode & 0o7777, 0o644);
  t.is(r.files, 2);
  await s.run({ sources: [{ heredoc: { name: 'x', content: 'renamed' } }], dest: '/etc/motd' });
  t.is(await s.read('etc/motd'), 'renamed');
});

test('hostile symlinks in the destination rootfs never make COPY write outside it', async (t) => {
  const base = await tempDir('copyopt-hostile-');
  const canary = path.join(base, 'canary');
  const destRoot = path.join(base, 'rootfs');
  await mkdir(canary);
  await writeFile(path.join(canary, 'keep'), 'KEEP');
  await mkdir(path.join(destRoot, 'usr'), { recursive: true });
  await symlink(canary, path.join(destRoot, 'etc')); // /etc -> host dir
  await symlink('../../..', path.join(destRoot, 'usr/a')); // climbs above
  await symlink(path.join(canary, 'keep'), path.join(destRoot, 'file-link'));
  const ctxDir = await makeTree({ 'conf/x.conf': 'X', keep: 'NEW', 'sub/keep': 'NEW2' });
  const source = await BuildContext.open(ctxDir);
  const run = (sources: string[], dest: string) => copy({ instruction: 'COPY', sources, dest }, { destRoot, source });
  await run(['conf'], '/etc/app/');
  await run(['conf'], '/usr/a/b/');
  await run(['keep'], '/etc/');
  await run(['keep'], '/file-link'); // replaces the link's target INSIDE the root, never the host file
  await run(['sub'], '/usr/a/../etc/');
  t.deepEqual(await readdir(canary), ['keep']);
  t.is(await readFile(path.join(canary, 'keep'), 'utf8'), 'KEEP');
  // The writes landed under the root, at the re-rooted paths.
  t.is(await readFile(path.join(destRoot, canary, 'app/x.conf'), 'utf8'), 'X');
  t.is(await readFile(path.join(destRoot, 'b/x.conf'), 'utf8'), 'X');
});
