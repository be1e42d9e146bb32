// End to end: a COPY of many files that runs again after one file changed
// links the unchanged files and takes their bytes from its previous layer
// (cache/layer-index.ts). What must hold, checked against a cold build of
// the same inputs in a fresh store: the same diff ids, the same image id
// (config digest) and byte-identical exported images; a damaged index only
// makes the re-run read the files; and `kill -9` at any point of such
// re-runs leaves a consistent store that still builds the same image.
import type { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { chmod, cp, link, lstat, mkdir, readFile, rename, rm, utimes, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../cache/digest.js';
import { decodeLayerIndex, encodeLayerIndex } from '../cache/layer-index.js';
import { freshStore, storeSuite, tsbuild } from './helpers/cli.js';
import { buildKilledAfter, mountsUnder } from './helpers/kill-build.js';
import { build, layerEntries, makeContext, readOciTar, scratch } from './e2e-image-helpers.js';

const suite = storeSuite('e2e COPY re-run with the layer index', { serial: true });
const { it } = suite;

const DOCKERFILE = `FROM busybox:latest
COPY . /app
RUN find /app -type f | wc -l > /count && cat /app/d3/f3.txt > /seen
`;
const ARGS = ['--build-arg', 'SOURCE_DATE_EPOCH=1700000000'];

async function bigContext(): Promise<string> {
  const files: Record<string, string | Buffer> = { 'empty': '', 'big.bin': randomBytes(1536 * 1024 + 3) };
  for (let i = 0; i < 400; i++) files[`d${i % 20}/f${i}.txt`] = `file ${i}\n${'x'.repeat(i * 7)}\n`;
  return makeContext(files, 'tsbuild-incr-ctx-');
}

interface Exported { bytes: Buffer; diffIds: string[]; imageId: string }

async function buildExport(root: string, ctx: string, args = ARGS, dockerfile = DOCKERFILE): Promise<Exported> {
  const dest = path.join(await scratch('tsbuild-incr-out-'), 'img.tar');
  await build(root, ctx, dockerfile, [...args, '-o', `type=oci,dest=${dest}`]);
  const img = await readOciTar(dest);
  return { bytes: await readFile(dest), diffIds: img.config.rootfs.diff_ids, imageId: img.configDigest };
}

async function coldBuild(ctx: string, args = ARGS, dockerfile = DOCKERFILE): Promise<Exported> {
  const cold = await freshStore();
  try {
    return await buildExport(cold.root, ctx, args, dockerfile);
  } finally {
    await cold.dispose();
  }
}

/** A cold build of ctx in a fresh store makes exactly `incremental`: diff ids, image id, exported bytes. */
async function sameAsCold(t: ExecutionContext, incremental: Exported, ctx: string, args = ARGS, dockerfile = DOCKERFILE): Promise<void> {
  const cold = await coldBuild(ctx, args, dockerfile);
  t.deepEqual(incremental.diffIds, cold.diffIds);
  t.is(incremental.imageId, cold.imageId);
  t.true(incremental.bytes.equals(cold.bytes), 'the exported OCI archive is byte for byte a cold build\'s');
}

const indexFile = (root: string, diffId: string) => path.join(root, 'content', 'layer-index', diffId.replace(/^sha256:/, ''));
const exists = (p: string) => access(p).then(() => true, () => false);

it('a one-file-changed rebuild gives a cold build\'s diff ids, image id and exported bytes, also when the index is damaged', async (t) => {
  const root = suite.store.root;
  const ctx = await bigContext();
  const first = await buildExport(root, ctx);
  t.true(await exists(indexFile(root, first.diffIds[1]!)), 'the COPY layer has an index');

  await writeFile(path.join(ctx, 'd7/f7.txt'), 'changed\n');
  const second = await buildExport(root, ctx);
  t.not(second.diffIds[1], first.diffIds[1]);
  t.true(await exists(indexFile(root, second.diffIds[1]!)), 'the re-run COPY layer has an index');
  await sameAsCold(t, second, ctx);

  // A damaged index is ignored: the re-run reads the files instead.
  const damaged = Buffer.from(await readFile(indexFile(root, second.diffIds[1]!)));
  damaged[damaged.length - 20] ^= 0x01;
  await writeFile(indexFile(root, second.diffIds[1]!), damaged);
  await writeFile(path.join(ctx, 'd3/f3.txt'), 'changed too\n');
  await sameAsCold(t, await buildExport(root, ctx), ctx);
});

it('a re-run whose SOURCE_DATE_EPOCH changed gives a cold build\'s image', async (t) => {
  const root = suite.store.root;
  const ctx = await bigContext();
  await buildExport(root, ctx);
  // Headers clamped to another time: none of the previous layer's can be
  // taken as they are; then the same time again: they can. (Without a
  // SOURCE_DATE_EPOCH no two builds here are alike: the build helper
  // writes the Dockerfile into the context, with a new mtime, each time.)
  const other = ['--build-arg', 'SOURCE_DATE_EPOCH=1600000000'];
  await writeFile(path.join(ctx, 'd7/f7.txt'), 'changed\n');
  await sameAsCold(t, await buildExport(root, ctx, other), ctx, other);
  await writeFile(path.join(ctx, 'd8/f8.txt'), 'changed\n');
  await sameAsCold(t, await buildExport(root, ctx, other), ctx, other);
  await writeFile(path.join(ctx, 'd9/f9.txt'), 'changed\n');
  await sameAsCold(t, await buildExport(root, ctx), ctx);
});

const snapshotDir = (root: string, diffId: string) => path.join(root, 'snapshots', diffId.replace(/^sha256:/, '').slice(0, 24));
const identity = async (dir: string) => {
  const st = await lstat(dir, { bigint: true });
  return `${st.dev}:${st.ino}:${st.ctimeNs}`;
};

it('a file whose mode or mtime changed with unchanged bytes, an old (v1) index and a snapshot dir made again all give a cold build\'s image', async (t) => {
  const root = suite.store.root;
  const ctx = await bigContext();
  const first = await buildExport(root, ctx);
  // The index describes the snapshot dir it was written for.
  const header = (await readFile(indexFile(root, first.diffIds[1]!))).toString().split('\n', 1)[0]!.split(' ');
  t.is(header[0], 'tsbuild-layer-index-v3');
  t.is(header[4], '1700000000', 'the index says what the mtimes were clamped to');
  t.is(header[3], await identity(snapshotDir(root, first.diffIds[1]!)));

  // Same bytes and mtime, other mode; same bytes and mode, other mtime.
  await chmod(path.join(ctx, 'd2/f2.txt'), 0o600);
  await utimes(path.join(ctx, 'd4/f4.txt'), 1_600_000_000, 1_600_000_000);
  const second = await buildExport(root, ctx);
  await sameAsCold(t, second, ctx);

  // An index in the previous format (no snapshot part) is still used, safely.
  const v2 = decodeLayerIndex(second.diffIds[1]! as Digest, await readFile(indexFile(root, second.diffIds[1]!)))!;
  t.truthy(v2);
  const lines = [...v2].map(([rel, f]) => `${f.offset} ${f.size} ${f.sha256} ${JSON.stringify(rel)}\n`).join('');
  const { createHash } = await import('node:crypto');
  const sum = createHash('sha256').update(lines).digest('hex');
  await writeFile(indexFile(root, second.diffIds[1]!), `tsbuild-layer-index-v1 ${second.diffIds[1]} ${sum}\n${lines}`);
  await chmod(path.join(ctx, 'd6/f6.txt'), 0o640);
  await writeFile(path.join(ctx, 'd7/f7.txt'), 'changed\n');
  const third = await buildExport(root, ctx);
  await sameAsCold(t, third, ctx);

  // A snapshot dir made again (another inode) is not the one its index
  // describes: an index that says (wrongly, for the new dir) that a file is
  // mode 600 must not be believed, the file is looked at.
  const dir = snapshotDir(root, third.diffIds[1]!);
  const index = decodeLayerIndex(third.diffIds[1]! as Digest, await readFile(indexFile(root, third.diffIds[1]!)))!;
  t.is(index.snapshot, await identity(dir));
  index.get('app/d9/f9.txt')!.snapshot!.perm = 0o600;
  await writeFile(indexFile(root, third.diffIds[1]!), encodeLayerIndex(third.diffIds[1]! as Digest, index));
  await cp(dir, `${dir}.again`, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  await rm(dir, { recursive: true });
  await rename(`${dir}.again`, dir);
  await chmod(path.join(ctx, 'd9/f9.txt'), 0o600);
  await sameAsCold(t, await buildExport(root, ctx), ctx);
});

it('a re-run links the unchanged files and copies the rest, with ignore rules, hard links, set-id bits, same-size edits and a changed big file, as a cold build does', async (t) => {
  const root = suite.store.root;
  const ctx = await bigContext();
  await writeFile(path.join(ctx, '.dockerignore'), 'd1\nd2/*.txt\n!d2/f22.txt\n**/*.tmp\n');
  await writeFile(path.join(ctx, 'd5/skip.tmp'), 'ignored\n');
  await writeFile(path.join(ctx, 'd5/setid'), 'setuid\n', { mode: 0o4755 });
  await chmod(path.join(ctx, 'd5/setid'), 0o4755);
  await mkdir(path.join(ctx, 'd6/nested/deeper'), { recursive: true });
  await writeFile(path.join(ctx, 'd6/nested/deeper/leaf.txt'), 'leaf\n');
  await link(path.join(ctx, 'd8/f8.txt'), path.join(ctx, 'd8/hardlink.txt'));
  const first = await buildExport(root, ctx);

  // Same size, other bytes (the checksum cache cannot vouch: the mtime is kept);
  // a big file with other bytes; a new file beside unchanged ones.
  const f9 = path.join(ctx, 'd9/f9.txt');
  const before = await lstat(f9);
  const text = await readFile(f9, 'utf8');
  await writeFile(f9, text.replace('file', 'FILE'));
  await utimes(f9, before.atime, before.mtime);
  const big = await readFile(path.join(ctx, 'big.bin'));
  big[1000] ^= 0xff;
  await writeFile(path.join(ctx, 'big.bin'), big);
  await writeFile(path.join(ctx, 'd3/new.txt'), 'new\n');
  const second = await buildExport(root, ctx);
  t.not(second.diffIds[1], first.diffIds[1]);
  await sameAsCold(t, second, ctx);

  // Unchanged files are the previous snapshot's inodes; what changed or is hard-linked in the context is not.
  const prev = snapshotDir(root, first.diffIds[1]!);
  const next = snapshotDir(root, second.diffIds[1]!);
  const ino = async (dir: string, rel: string) => (await lstat(path.join(dir, rel))).ino;
  for (const rel of ['app/d3/f3.txt', 'app/d6/nested/deeper/leaf.txt', 'app/d2/f22.txt', 'app/empty']) t.is(await ino(next, rel), await ino(prev, rel), `${rel} is linked`);
  for (const rel of ['app/d9/f9.txt', 'app/big.bin', 'app/d5/setid', 'app/d8/f8.txt']) t.not(await ino(next, rel), await ino(prev, rel), `${rel} is copied`);
  t.is(await ino(next, 'app/d8/f8.txt'), await ino(next, 'app/d8/hardlink.txt'), 'a hard link in the context stays one in the layer');
  t.is((await lstat(path.join(next, 'app/d5/setid'))).mode & 0o7777, 0o4755);
  for (const rel of ['app/d1', 'app/d2/f2.txt', 'app/d5/skip.tmp']) t.false(await exists(path.join(next, rel)), `${rel} is ignored`);
  t.is((await readFile(path.join(next, 'app/d9/f9.txt'), 'utf8')).slice(0, 4), 'FILE');
});

it('a hard link of the context broken since the last build gives two files, as a cold build does', async (t) => {
  const root = suite.store.root;
  const ctx = await bigContext();
  await link(path.join(ctx, 'd8/f8.txt'), path.join(ctx, 'd8/hardlink.txt'));
  const first = await buildExport(root, ctx);
  // Same bytes, mode and mtime, but its own file now: the previous snapshot
  // holds both names as one file, which must not be linked twice.
  const hardlink = path.join(ctx, 'd8/hardlink.txt');
  const before = await lstat(hardlink);
  await rm(hardlink);
  await writeFile(hardlink, await readFile(path.join(ctx, 'd8/f8.txt')), { mode: before.mode & 0o777 });
  await utimes(hardlink, before.atime, before.mtime);
  await writeFile(path.join(ctx, 'd3/f3.txt'), 'changed\n');
  const second = await buildExport(root, ctx);
  await sameAsCold(t, second, ctx);
  const next = snapshotDir(root, second.diffIds[1]!);
  const ino = async (rel: string) => (await lstat(path.join(next, rel))).ino;
  t.not(await ino('app/d8/f8.txt'), await ino('app/d8/hardlink.txt'));
  t.is(await ino('app/d8/f8.txt'), (await lstat(path.join(snapshotDir(root, first.diffIds[1]!), 'app/d8/f8.txt'))).ino, 'the first name is still linked');
});

it('a path the re-run COPY linked from its previous snapshot and then wrote again from a later source holds the later file, as in a cold build', async (t) => {
  const root = suite.store.root;
  // a/x.txt and b/x.txt are alike (bytes, mode, mtime) at first, so the
  // re-run links a/x.txt's /app/x.txt from the previous snapshot (which
  // holds b's copy of the same bytes) before b/x.txt, changed since,
  // replaces it: the layer must carry b's new bytes, not the linked file's.
  const dockerfile = 'FROM busybox:latest\nCOPY a/ b/ /app/\nRUN cat /app/x.txt > /seen\n';
  const files: Record<string, string> = { 'a/x.txt': 'the same\n', 'b/x.txt': 'the same\n' };
  for (let i = 0; i < 30; i++) files[`a/f${i}.txt`] = `file ${i}\n`;
  const ctx = await makeContext(files, 'tsbuild-incr-twice-');
  const when = new Date('2024-01-02T03:04:05Z');
  for (const f of ['a/x.txt', 'b/x.txt']) await utimes(path.join(ctx, f), when, when);
  await buildExport(root, ctx, ARGS, dockerfile);

  await writeFile(path.join(ctx, 'b/x.txt'), 'b changed\n');
  const second = await buildExport(root, ctx, ARGS, dockerfile);
  const saved = path.join(await scratch('tsbuild-incr-out-'), 'again.tar');
  await writeFile(saved, second.bytes);
  const [, copied, ran] = await layerEntries(await readOciTar(saved));
  t.is(copied!.find((e) => e.name === 'app/x.txt')?.data.toString(), 'b changed\n');
  t.is(ran!.find((e) => e.name === 'seen')?.data.toString(), 'b changed\n', 'the RUN saw the later file too');
  await sameAsCold(t, second, ctx, ARGS, dockerfile);
});

it('kill -9 at random points of COPY re-runs leaves a consistent store that builds a cold build\'s image', async (t) => {
  const root = suite.store.root;
  const ctx = await bigContext();
  await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  // Uninterrupted re-runs tell how long to let the killed ones run: the
  // quicker of two, as one alone could be slowed by whatever else the
  // machine ran meanwhile (a CI run of the whole suite once measured a span
  // its trials then beat 10 times of 12), or by a fresh checkout's first
  // re-run compiling the CLI's code for its cache.
  await buildExport(root, ctx);
  let quickest = Infinity;
  for (const text of ['timed\n', 'timed again\n']) {
    await writeFile(path.join(ctx, 'd1/f1.txt'), text);
    const started = Date.now();
    await buildExport(root, ctx);
    quickest = Math.min(quickest, Date.now() - started);
  }
  const span = Math.max(300, quickest);

  const TRIALS = 12;
  let killed = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    // Each trial changes one file: the COPY re-runs with the previous layer's help.
    await writeFile(path.join(ctx, `d${trial % 20}/f${trial % 20}.txt`), `trial ${trial} ${Math.random()}\n`);
    const { finished } = await buildKilledAfter(root, ctx, Math.floor(Math.random() * span), ARGS);
    if (!finished) killed++;
  }
  t.log(`${killed} of ${TRIALS} re-runs killed mid-way`);
  t.true(killed >= TRIALS / 3, 'many trials were killed before the build ended');
  for (let i = 0; i < 100 && (await mountsUnder(root)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(await mountsUnder(root), []);

  const check = await tsbuild(['du', '--check'], { root });
  t.is(check.code, 0, check.stdout + check.stderr);
  t.regex(check.stdout, /store is consistent/);

  // The store goes on building exactly what a cold build makes.
  await writeFile(path.join(ctx, 'd5/f5.txt'), 'after the kills\n');
  await sameAsCold(t, await buildExport(root, ctx), ctx);
});
