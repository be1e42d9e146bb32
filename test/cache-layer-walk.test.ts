import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { EntryStat, walkTree } from '../cache/layer-walk.js';
import { needsRoot, runIf } from './helpers/skip.js';
import { tempDir } from './helpers/temp-dirs.js';

// The walk keeps a small EntryStat per entry instead of fs.Stats: it must
// answer every question a layer asks exactly as lstat(2) does.
const KINDS = ['isFile', 'isDirectory', 'isSymbolicLink', 'isCharacterDevice', 'isBlockDevice', 'isFIFO', 'isSocket'] as const;

async function compareWithLstat(t: import('ava').ExecutionContext, root: string, expected: string[]): Promise<void> {
  const entries = await walkTree(root);
  t.deepEqual(entries.map((e) => e.rel).sort(), [...expected].sort());
  for (const { rel, st } of entries) {
    const real = fs.lstatSync(path.join(root, rel));
    for (const kind of KINDS) t.is(st[kind](), real[kind](), `${rel}: ${kind}`);
    t.deepEqual(
      { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs, rdev: st.rdev },
      { mode: real.mode, uid: real.uid, gid: real.gid, size: real.size, mtimeMs: real.mtimeMs, rdev: real.rdev },
      rel,
    );
  }
}

test('walkTree entries carry what lstat says of files, directories, symlinks and fifos', async (t) => {
  const root = await tempDir('tsbuild-walk-');
  fs.mkdirSync(path.join(root, 'dir/sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'dir/file'), 'hello');
  fs.chmodSync(path.join(root, 'dir/file'), 0o4755);
  fs.symlinkSync('../elsewhere', path.join(root, 'dir/link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  fs.utimesSync(path.join(root, 'dir/file'), 1234.5, 1234.5);
  await compareWithLstat(t, root, ['dir', 'dir/sub', 'dir/file', 'dir/link', 'fifo']);
});

runIf(needsRoot('mknod of devices needs root'))('walkTree entries carry device numbers and owners as lstat does', async (t) => {
  const root = await tempDir('tsbuild-walk-');
  execFileSync('mknod', [path.join(root, 'null'), 'c', '1', '3']);
  execFileSync('mknod', [path.join(root, 'loop'), 'b', '7', '200']);
  fs.writeFileSync(path.join(root, 'owned'), 'x');
  fs.chownSync(path.join(root, 'owned'), 1234, 5678);
  await compareWithLstat(t, root, ['null', 'loop', 'owned']);
});

test('walkTree takes the entries `known` gives for regular files only, and lstats everything else', async (t) => {
  const root = await tempDir('tsbuild-walk-');
  fs.mkdirSync(path.join(root, 'dir'));
  fs.writeFileSync(path.join(root, 'dir/file'), 'hello');
  fs.writeFileSync(path.join(root, 'other'), 'x');
  fs.symlinkSync('file', path.join(root, 'dir/link'));
  const given = { rel: 'dir/file', st: new EntryStat({ mode: fs.constants.S_IFREG | 0o600, uid: 7, gid: 8, size: 99, mtimeMs: 5, rdev: 0, dev: 1, ino: 2 }), inode: '1:2' };
  const asked: string[] = [];
  const entries = await walkTree(root, (rel) => {
    asked.push(rel);
    return rel === 'dir/file' || rel === 'dir/link' || rel === 'dir' ? given : undefined;
  });
  t.deepEqual(asked.sort(), ['dir/file', 'other'], 'asked about regular files only');
  const byRel = new Map(entries.map((e) => [e.rel, e]));
  t.is(byRel.get('dir/file'), given, 'a known file is not lstat\'ed');
  t.true(byRel.get('dir/link')!.st.isSymbolicLink());
  t.true(byRel.get('dir')!.st.isDirectory());
  t.is(byRel.get('other')!.st.size, 1);
});
