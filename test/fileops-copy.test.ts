import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, chown, link, lstat, mkdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BuildContext } from '../builder/context/context.js';
import { copy, type CopyOp } from '../builder/fileops/copy.js';
import { DirectorySource } from '../builder/fileops/source-tree.js';
import { tempDir } from './helpers/temp-dirs.js';
import { runIf } from './helpers/skip.js';

const isRoot = process.getuid?.() === 0;

async function makeTree(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('copy-');
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    if (name.endsWith('/')) {
      await mkdir(file, { recursive: true });
      continue;
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

const CONTEXT = {
  'a.txt': 'A',
  'b.txt': 'B',
  'c.md': 'C',
  'dir/x': 'X',
  'dir/sub/y': 'Y',
  'secret.key': 'S',
  '.dockerignore': 'secret.key\n',
};

async function setup(destFiles: Record<string, string> = {}) {
  const ctxDir = await makeTree(CONTEXT);
  const destRoot = await makeTree(destFiles);
  const context = await BuildContext.open(ctxDir);
  const run = (op: Partial<CopyOp> & Pick<CopyOp, 'sources' | 'dest'>) =>
    copy({ instruction: 'COPY', ...op }, { destRoot, source: context });
  const read = (p: string) => readFile(path.join(destRoot, p), 'utf8');
  const exists = (p: string) => lstat(path.join(destRoot, p)).then(() => true, () => false);
  return { ctxDir, destRoot, run, read, exists };
}

const codeOf = (err: unknown): string | undefined => (err as { code?: string } | undefined)?.code;

test('a directory source copies its contents, creating dest (0755)', async (t) => {
  const s = await setup();
  const result = await s.run({ sources: ['dir'], dest: '/dst' });
  t.is(await s.read('dst/x'), 'X');
  t.is(await s.read('dst/sub/y'), 'Y');
  t.false(await s.exists('dst/dir'));
  t.is((await stat(path.join(s.destRoot, 'dst'))).mode & 0o7777, 0o755);
  t.is(result.files, 2);
  t.is(result.bytes, 2);
});

test('file to "dest/" goes inside; file to "dest" becomes that file', async (t) => {
  const s = await setup();
  await s.run({ sources: ['a.txt'], dest: '/into/' });
  t.is(await s.read('into/a.txt'), 'A');
  await s.run({ sources: ['a.txt'], dest: '/renamed' });
  t.is(await s.read('renamed'), 'A');
});

test('file onto an existing directory goes inside it', async (t) => {
  const s = await setup({ 'existing/': '' });
  await s.run({ sources: ['a.txt'], dest: '/existing' });
  t.is(await s.read('existing/a.txt'), 'A');
});

test('relative dest is resolved against the WORKDIR', async (t) => {
  const s = await setup();
  await s.run({ sources: ['a.txt'], dest: 'rel/', workdir: '/app' });
  t.is(await s.read('app/rel/a.txt'), 'A');
  await s.run({ sources: ['b.txt'], dest: '.', workdir: '/app/rel' });
  t.is(await s.read('app/rel/b.txt'), 'B');
});

test('wildcards expand with Go filepath.Match rules', async (t) => {
  const s = await setup();
  await s.run({ sources: ['*.txt'], dest: '/w/' });
  t.is(await s.read('w/a.txt'), 'A');
  t.is(await s.read('w/b.txt'), 'B');
  t.false(await s.exists('w/c.md'));
  await s.run({ sources: ['[ab].txt', 'd?r'], dest: '/w2/' });
  t.is(await s.read('w2/x'), 'X'); // a matched directory copies its contents
});

test('a wildcard matching nothing copies nothing (BuildKit AllowEmptyWildcard)', async (t) => {
  const s = await setup();
  const r = await s.run({ sources: ['*.nothing'], dest: '/none/' });
  t.is(r.files, 0);
  t.false(await s.exists('none'));
});

test('several sources need a dest ending in "/" or an existing directory', async (t) => {
  const s = await setup({ 'existing/': '' });
  const err = await t.throwsAsync(s.run({ sources: ['a.txt', 'b.txt'], dest: '/multi' }));
  t.is(codeOf(err), 'DEST_NOT_DIRECTORY');
  t.false(await s.exists('multi'));
  const err2 = await t.throwsAsync(s.run({ sources: ['*.txt'], dest: '/multi' }));
  t.is(codeOf(err2), 'DEST_NOT_DIRECTORY');
  await s.run({ sources: ['a.txt', 'b.txt'], dest: '/existing' });
  t.is(await s.read('existing/b.txt'), 'B');
});

test('a missing source is an error naming it; ignored files are missing', async (t) => {
  const s = await setup();
  const err = await t.throwsAsync(s.run({ sources: ['nope.txt'], dest: '/' }));
  t.is(codeOf(err), 'SOURCE_NOT_FOUND');
  t.regex(err!.message, /"nope\.txt"/);
  const err2 = await t.throwsAsync(s.run({ sources: ['secret.key'], dest: '/' }));
  t.is(codeOf(err2), 'SOURCE_NOT_FOUND');
  await s.run({ sources: ['.'], dest: '/all/' });
  t.false(await s.exists('all/secret.key'));
  t.is(await s.read('all/dir/sub/y'), 'Y');
});

test('sources outside the context are refused', async (t) => {
  const s = await setup();
  for (const src of ['../x', 'dir/../../x', '/../etc/passwd']) {
    const err = await t.throwsAsync(s.run({ sources: [src], dest: '/' }));
    t.is(codeOf(err), 'PATH_ESCAPES_CONTEXT', src);
    t.true(err!.message.includes(JSON.stringify(src)));
  }
  // Leading slash and trailing slash are fine: "/dir/" is the context's dir.
  await s.run({ sources: ['/dir/'], dest: '/d' });
  t.is(await s.read('d/x'), 'X');
});

test('metadata: mode and mtime kept, owner 0:0 from the context, symlinks and hard links kept', async (t) => {
  const s = await setup();
  const tdir = path.join(s.ctxDir, 'meta');
  await mkdir(tdir);
  await writeFile(path.join(tdir, 'run.sh'), '#!/bin/sh');
  if (isRoot) await chown(path.join(tdir, 'run.sh'), 1234, 5678); // before chmod: chown clears set-id bits
  await chmod(path.join(tdir, 'run.sh'), 0o4751);
  const when = new Date('2001-02-03T04:05:06Z');
  await utimes(path.join(tdir, 'run.sh'), when, when);
  await symlink('/does/not/matter', path.join(tdir, 'link'));
  await link(path.join(tdir, 'run.sh'), path.join(tdir, 'hard'));
  const r = await s.run({ sources: ['meta'], dest: '/m/' });
  const st = await stat(path.join(s.destRoot, 'm/run.sh'));
  t.is(st.mode & 0o7777, 0o4751);
  t.is(st.mtime.getTime(), when.getTime());
  if (isRoot) t.deepEqual([st.uid, st.gid], [0, 0]);
  t.is(await readlink(path.join(s.destRoot, 'm/link')), '/does/not/matter');
  t.is((await stat(path.join(s.destRoot, 'm/hard'))).ino, st.ino);
  t.is(r.hardlinks, 1);
  t.is(r.symlinks, 1);
});

runIf(!isRoot ? 'needs root to chown' : undefined, test)('COPY --from a rootfs keeps ownership; .. is clamped there', async (t) => {
  const stage = await makeTree({ 'opt/app/bin': 'BIN' });
  await chown(path.join(stage, 'opt/app/bin'), 1000, 1001);
  const destRoot = await makeTree({});
  await copy({ instruction: 'COPY', sources: ['../../opt/app'], dest: '/app' }, { destRoot, source: new DirectorySource(stage) });
  const st = await stat(path.join(destRoot, 'app/bin'));
  t.deepEqual([st.uid, st.gid], [1000, 1001]);
});

test('top-level source symlinks are followed inside the context; escaping ones are not found', async (t) => {
  const s = await setup();
  await symlink('dir', path.join(s.ctxDir, 'dirlink'));
  await symlink('/a.txt', path.join(s.ctxDir, 'abslink'));
  const outside = await makeTree({ 'secret': 'HOST' });
  await symlink(path.join(outside, 'secret'), path.join(s.ctxDir, 'escape'));
  await symlink(`../${path.basename(outside)}/secret`, path.join(s.ctxDir, 'escape-rel'));
  await s.run({ sources: ['dirlink'], dest: '/viadir' });
  t.is(await s.read('viadir/x'), 'X');
  await s.run({ sources: ['abslink'], dest: '/f/' });
  t.is(await s.read('f/abslink'), 'A'); // named after the link, content of its target
  for (const src of ['escape', 'escape-rel']) {
    const err = await t.throwsAsync(s.run({ sources: [src], dest: '/e/' }));
    t.is(codeOf(err), 'SOURCE_NOT_FOUND');
  }
  t.false(await s.exists('e/escape'));
});

test('conflicts: a file cannot replace a directory, nor a directory a file', async (t) => {
  const s = await setup({ 'x/': '' });
  const err = await t.throwsAsync(s.run({ sources: ['dir'], dest: '/' }));
  t.is(codeOf(err), 'COPY_CONFLICT');
  t.regex(err!.message, /cannot replace to directory \/x with file/);
  await s.run({ sources: ['a.txt'], dest: '/x' }); // but a top-level file goes inside an existing dir
  t.is(await s.read('x/a.txt'), 'A');
  const s2 = await setup({ 'sub': 'P' });
  await writeFile(path.join(s2.ctxDir, 'dir/x'), 'X'); // no conflict for x here
  const err2 = await t.throwsAsync(s2.run({ sources: ['dir'], dest: '/' }));
  t.is(codeOf(err2), 'COPY_CONFLICT');
  t.regex(err2!.message, /cannot copy to non-directory: \/sub/);
});

test('special files (FIFOs) from a stage rootfs are recreated', async (t) => {
  const stage = await makeTree({ 'run/': '' });
  await promisify(execFile)('mkfifo', ['-m', '0620', path.join(stage, 'run/pipe')]);
  const destRoot = await makeTree({});
  const r = await copy({ instruction: 'COPY', sources: ['/run'], dest: '/r' }, { destRoot, source: new DirectorySource(stage) });
  const st = await lstat(path.join(destRoot, 'r/pipe'));
  t.true(st.isFIFO());
  t.is(st.mode & 0o7777, 0o620);
  t.is(r.specialFiles, 1);
});

test('--chown by name is looked up in the destination\'s /etc/passwd and /etc/group; a FIFO there is refused, never waited on', async (t) => {
  const { destRoot, run } = await setup({ 'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n', 'etc/group': 'root:x:0:\nstaff:x:1001:\n' });
  await run({ sources: ['a.txt'], dest: '/x', chown: 'app:staff' });
  if (isRoot) {
    const st = await stat(path.join(destRoot, 'x'));
    t.deepEqual([st.uid, st.gid], [1000, 1001]);
  }
  await t.throwsAsync(run({ sources: ['a.txt'], dest: '/y', chown: 'nobody' }), { message: /nobody/ });
  // A FIFO opened for reading blocks until a writer comes: the lookup must not.
  const fifoRoot = await setup({ 'etc/': '' });
  await promisify(execFile)('mkfifo', [path.join(fifoRoot.destRoot, 'etc/passwd')]);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the lookup hung on the FIFO')), 10_000); });
  try {
    await t.throwsAsync(Promise.race([fifoRoot.run({ sources: ['a.txt'], dest: '/x', chown: 'app' }), hung]), { message: /user "?app"?/ });
  } finally {
    clearTimeout(timer);
  }
});
