// End to end: a step's layer is written (tarred and digested) in the
// background while the steps after it run on its upper dir. What must
// hold: those steps see the files, the image's layers are those a cold
// build makes, every snapshot is published once the build ends and no
// workspace is left; and a background write that fails (a full disk)
// fails the build with its one-line reason, caches nothing and leaves a
// consistent store with no half-written blob.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { buildSkipReason, freshStore, tsbuild } from './helpers/cli.js';
import { mountsUnder } from './helpers/kill-build.js';
import { runIf, toolMissing } from './helpers/skip.js';
import { tempDir } from './helpers/temp-dirs.js';
import { build, layerEntries, makeContext, readOciTar, scratch, type ExportedImage } from './e2e-image-helpers.js';

/** A file's content in the image: from the topmost layer that has it. */
async function fileIn(img: ExportedImage, name: string): Promise<string | undefined> {
  const layers = await layerEntries(img);
  for (const entries of layers.reverse()) {
    const e = entries.find((x) => x.name === name);
    if (e) return e.data.toString();
  }
  return undefined;
}

const exists = (p: string) => access(p).then(() => true, () => false);
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Temp dirs and temp files a build left in the store. */
async function leftovers(root: string): Promise<string[]> {
  const snapshots = (await readdir(path.join(root, 'snapshots'))).filter((n) => n.startsWith('tmp-'));
  const temps = (await readdir(path.join(root, 'content', 'tmp')).catch(() => [] as string[])).filter((n) => n.startsWith('layer-'));
  return [...snapshots, ...temps];
}

const DOCKERFILE = `FROM busybox:latest AS build
COPY . /src
RUN sha256sum /src/data/*.bin | sed 's| /src/data/| |' > /sums && cat /src/notes.txt > /notes
FROM busybox:latest
COPY --from=build /sums /notes /out/
RUN wc -l < /out/sums > /out/count
`;

runIf(buildSkipReason(), test.serial)('steps run on layers still being written; the image is a cold build\'s, snapshots are published, nothing is left', async (t) => {
  const files: Record<string, Buffer | string> = { 'notes.txt': 'background\n' };
  for (let i = 0; i < 300; i++) files[`data/f${i}.bin`] = randomBytes(16 * 1024);
  const ctx = await makeContext(files);
  const args = ['--build-arg', 'SOURCE_DATE_EPOCH=1700000000'];
  const store = await freshStore();
  t.teardown(() => store.dispose());
  const out = path.join(await scratch(), 'img.tar');
  await build(store.root, ctx, DOCKERFILE, [...args, '-o', `type=oci,dest=${out}`]);
  const img = await readOciTar(out);

  // What the RUN steps saw of the COPY layers under them.
  const sums = await fileIn(img, 'out/sums');
  const expected = Object.keys(files).filter((f) => f.endsWith('.bin')).sort()
    .map((f) => `${sha256(files[f]!)}  ${path.basename(f)}`).join('\n') + '\n';
  t.is(sums, expected);
  t.is(await fileIn(img, 'out/notes'), 'background\n');
  t.is((await fileIn(img, 'out/count'))?.trim(), '300');

  // Every layer's snapshot is published under its diff id; no workspace or temp tar is left.
  for (const diffId of img.config.rootfs.diff_ids) t.true(await exists(path.join(store.root, 'snapshots', diffId.slice(7, 31))), diffId);
  t.deepEqual(await leftovers(store.root), []);
  t.deepEqual(await mountsUnder(store.root), []);
  const check = await tsbuild(['du', '--check'], { root: store.root });
  t.is(check.code, 0, check.stdout + check.stderr);

  // A cold build of the same inputs in another store makes the same image.
  const cold = await freshStore();
  t.teardown(() => cold.dispose());
  const coldOut = path.join(await scratch(), 'img.tar');
  await build(cold.root, ctx, DOCKERFILE, [...args, '-o', `type=oci,dest=${coldOut}`]);
  t.true((await readFile(out)).equals(await readFile(coldOut)), 'byte for byte the same OCI archive');
  // And a rebuild is served from the cache the background writes filled.
  const again = await build(store.root, ctx, DOCKERFILE, args);
  for (const step of ['COPY . /src', 'RUN sha256sum', 'COPY --from=build', 'RUN wc -l']) {
    t.regex(again.stderr + again.stdout, new RegExp(`${step.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*\n#\\d+ CACHED`), step);
  }
});

const loopReason = buildSkipReason() ?? toolMissing('mkfs.ext4', 'e2fsprogs') ?? toolMissing('losetup', 'mount');

runIf(loopReason, test.serial)('a background write that fills the disk fails the build with one line, caches nothing and leaves a consistent store', async (t) => {
  // A store on a small file system of its own, so that only it fills up.
  const dir = await tempDir('tsbuild-enospc-');
  const image = path.join(dir, 'fs.img');
  const root = path.join(dir, 'store');
  execFileSync('truncate', ['-s', '48M', image]);
  execFileSync('mkfs.ext4', ['-q', '-F', image]);
  execFileSync('mkdir', ['-p', root]);
  try {
    execFileSync('mount', ['-o', 'loop', image, root], { stdio: 'pipe' });
  } catch (err) {
    t.log(`no loop mount here: ${(err as Error).message}`);
    t.fail('mount -o loop failed (needs root and loop devices)');
    return;
  }
  t.teardown(() => { execFileSync('umount', ['-l', root]); });
  await loadBusyboxImage('busybox:latest', root);
  const ctx = await makeContext({ 'a.txt': 'a\n' });
  // The sparse file takes no space in the upper dir; its layer tar (64 MiB) does not fit.
  await writeFile(path.join(ctx, 'Dockerfile'), `FROM busybox:latest
RUN truncate -s 64M /sparse
RUN sleep 1 && echo after > /after
`);
  for (const attempt of [1, 2]) {
    const r = await tsbuild(['build', '--progress=plain', '-t', 'full:disk', ctx], { root });
    t.is(r.code, 1, `attempt ${attempt}: ${r.stderr}`);
    t.regex(r.stderr, /^ERROR: no space left on device$/m);
    t.notRegex(r.stderr, /internal error|\n\s+at /);
    // Nothing was cached: the second attempt runs the step again (and fails again).
    t.regex(r.stdout + r.stderr, /RUN truncate -s 64M \/sparse\n(#\d+ .*\n)*#\d+ DONE/);
  }
  t.deepEqual(await leftovers(root), []);
  t.deepEqual(await mountsUnder(root), []);
  const images = await tsbuild(['images'], { root });
  t.notRegex(images.stdout, /full/);
  const check = await tsbuild(['du', '--check'], { root });
  t.is(check.code, 0, check.stdout + check.stderr);
});
