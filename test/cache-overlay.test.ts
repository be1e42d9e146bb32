import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { applyLayer } from '../cache/layer-unpack.js';
import { tarFromDir, tarFromOverlayUpper } from '../cache/layer-diff.js';
import { describeTree } from '../cache/tree-manifest.js';
import { removeTempDir, tempDirSync } from './helpers/temp-dirs.js';

// Every temp dir of this file lives under one root, removed at the end.
const testRoot = tempDirSync('tsbuild-cache-test-');
// The tests mount overlays under it: never removed through one left mounted.
test.after.always(() => removeTempDir(testRoot));

const isRoot = process.getuid?.() === 0;
const rootOnly = isRoot ? test : test.skip;
if (!isRoot) console.log('cache-overlay: skipped, mounting overlayfs and creating whiteout devices need root');

function mount(options: string, target: string): void {
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', options, target], { stdio: 'pipe' });
}

function umount(target: string): void {
  try {
    execFileSync('umount', [target], { stdio: 'pipe' });
  } catch {
    // Not mounted (the mount itself failed): nothing to undo.
  }
}

async function tarBytes(write: (out: PassThrough) => Promise<unknown>): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  await write(out);
  return Buffer.concat(parts);
}

async function entryNames(tar: Buffer): Promise<string[]> {
  const ex = tarStream.extract();
  const names: string[] = [];
  const done = (async () => {
    for await (const e of ex) {
      names.push(e.header.name);
      e.resume();
    }
  })();
  ex.end(tar);
  await done;
  return names;
}

rootOnly('a real overlay: lower from applyLayer, changes in the merged view, upper → OCI layer → same view', async (t) => {
  const work = await fs.mkdtemp(path.join(testRoot, 'tsbuild-ovl-'));
  const dir = (name: string) => path.join(work, name);
  for (const d of ['src', 'lower1', 'lower2', 'upper', 'work', 'merged', 'merged2', 'flat']) await fs.mkdir(dir(d));

  // Base layer: a file to delete, a directory to replace, a file to change.
  await fs.writeFile(path.join(dir('src'), 'keep.txt'), 'keep');
  await fs.writeFile(path.join(dir('src'), 'del.txt'), 'delete me');
  await fs.mkdir(path.join(dir('src'), 'dir/nested'), { recursive: true });
  for (const f of ['dir/old1', 'dir/old2', 'dir/nested/deep']) await fs.writeFile(path.join(dir('src'), f), f);
  const base = await tarBytes((out) => tarFromDir(dir('src'), out, {}));
  await applyLayer(Readable.from([base]), dir('lower1'), { overlayWhiteouts: true });

  let expectedView;
  try {
    // As root the mount must work: a failure here is a failure of the test, not a skip.
    mount(`lowerdir=${dir('lower1')},upperdir=${dir('upper')},workdir=${dir('work')}`, dir('merged'));
    const m = dir('merged');
    await fs.rm(path.join(m, 'del.txt'));
    await fs.rm(path.join(m, 'dir'), { recursive: true });
    await fs.mkdir(path.join(m, 'dir'));
    await fs.writeFile(path.join(m, 'dir/new'), 'new');
    await fs.appendFile(path.join(m, 'keep.txt'), ' and more');
    expectedView = await describeTree(m);
  } finally {
    umount(dir('merged'));
  }

  const layer = await tarBytes((out) => tarFromOverlayUpper(dir('upper'), out, {}));
  const names = await entryNames(layer);
  t.deepEqual(names, ['.wh.del.txt', 'dir/', 'dir/.wh..wh..opq', 'dir/new', 'keep.txt']);

  // Stack the new layer on the old one as two overlay lowerdirs: same view.
  await applyLayer(Readable.from([layer]), dir('lower2'), { overlayWhiteouts: true, lowerDirs: [dir('lower1')] });
  let stackedView;
  try {
    mount(`lowerdir=${dir('lower2')}:${dir('lower1')}`, dir('merged2'));
    stackedView = await describeTree(dir('merged2'));
  } finally {
    umount(dir('merged2'));
  }
  t.deepEqual(stackedView, expectedView);

  // And applied one after the other into a single directory: same view again.
  await applyLayer(Readable.from([base]), dir('flat'));
  await applyLayer(Readable.from([layer]), dir('flat'));
  t.deepEqual(await describeTree(dir('flat')), expectedView);
  t.deepEqual(expectedView.map((i) => i.path), ['dir', 'dir/new', 'keep.txt']);
});

rootOnly('overlay mode copies up a hard-link target that lives in a lower layer', async (t) => {
  const work = await fs.mkdtemp(path.join(testRoot, 'tsbuild-ovl-hl-'));
  const lower = path.join(work, 'lower');
  const upper = path.join(work, 'upper');
  await fs.mkdir(path.join(lower, 'bin'), { recursive: true, mode: 0o711 });
  await fs.writeFile(path.join(lower, 'bin/tool'), 'tool', { mode: 0o755 });
  const pack = tarStream.pack();
  pack.entry({ name: 'usr/bin/tool-alias', type: 'link', linkname: 'bin/tool', mtime: new Date(0), mode: 0o755 });
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const b of pack) parts.push(b as Buffer);
  await applyLayer(Readable.from([Buffer.concat(parts)]), upper, { overlayWhiteouts: true, lowerDirs: [lower] });
  const a = await fs.stat(path.join(upper, 'bin/tool'));
  const b = await fs.stat(path.join(upper, 'usr/bin/tool-alias'));
  t.is(a.ino, b.ino);
  t.is(await fs.readFile(path.join(upper, 'usr/bin/tool-alias'), 'utf8'), 'tool');
  t.is((await fs.stat(path.join(upper, 'bin'))).mode & 0o777, 0o711, 'implicit parent copies the lower dir mode');
});
