import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { walkTree } from '../cache/layer-walk.js';
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
