// End to end: the store under concurrency and garbage collection. Two builds
// at once on one store both succeed and leave it consistent (`du --check`);
// `prune` frees the cache of intermediate stages but keeps tagged images
// exportable and runnable, and keeps the cache of their own steps unless
// --all; the configured size limit is enforced after a build, and within it
// removes nothing while remembering the sizes of what the build made.
import test from 'ava';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { buildSkipReason, freshStore, tempDir, tsbuild } from './helpers/cli.js';
import { build, makeContext, ok } from './e2e-image-helpers.js';
import { runIf } from './helpers/skip.js';
import { treeBytes } from '../cache/gc-scan.js';

// Each test makes its own fresh stores (concurrency and GC need a known start).
const it = runIf(buildSkipReason(), test.serial);

// The `build` stage's 2 MB file is cache only: the final image copies 4 bytes of it.
const MULTISTAGE = (tag: string) => `FROM busybox:latest AS build
RUN dd if=/dev/zero of=/big bs=1024 count=2048 2>/dev/null && echo ${tag} > /small
FROM busybox:latest
COPY --from=build /small /small
COPY app.txt /app.txt
`;

function reclaimedBytes(stdout: string): string {
  return /Total reclaimed space: (\S+)/.exec(stdout)?.[1] ?? '?';
}

async function check(root: string): Promise<string> {
  const r = await tsbuild(['du', '--check'], { root });
  if (r.code !== 0) throw new Error(`du --check failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

it('two concurrent builds on one store both succeed and the store is consistent', async (t) => {
  const store = await freshStore();
  try {
    const a = await makeContext({ 'app.txt': 'a\n' });
    const b = await makeContext({ 'app.txt': 'b\n' });
    // Same first steps in both: they race on the same cache keys and snapshots.
    const dockerfile = `FROM busybox:latest
RUN echo shared > /shared && sleep 1
COPY app.txt /app.txt
RUN cat /app.txt > /copy
`;
    const [ra, rb] = await Promise.all([
      build(store.root, a, dockerfile, ['-t', 'a:v1']),
      build(store.root, b, dockerfile, ['-t', 'b:v1']),
    ]);
    t.regex(ra.stderr, /naming to docker\.io\/library\/a:v1/);
    t.regex(rb.stderr, /naming to docker\.io\/library\/b:v1/);
    t.regex(await check(store.root), /store is consistent: 3 images/);
  } finally {
    await store.dispose();
  }
});

it('du --check reports a cache entry whose layer blob is gone', async (t) => {
  const store = await freshStore();
  try {
    const ctx = await makeContext({ 'app.txt': 'x\n' });
    await build(store.root, ctx, MULTISTAGE('one'));
    const du = await ok(['du', '--format', 'json'], { root: store.root });
    t.true(JSON.parse(du.stdout).blobs.reclaimableBytes > 2_000_000);
    // Remove the blob of the intermediate stage's 2 MB layer behind the store's back.
    const blobs = path.join(store.root, 'content/blobs/sha256');
    const { readdir } = await import('node:fs/promises');
    for (const name of await readdir(blobs)) {
      if ((await stat(path.join(blobs, name))).size > 2_000_000) await rm(path.join(blobs, name));
    }
    const r = await tsbuild(['du', '--check'], { root: store.root });
    t.is(r.code, 1);
    t.regex(r.stdout, /cache entry sha256:[0-9a-f]+: layer blob sha256:[0-9a-f]+ is missing/);
  } finally {
    await store.dispose();
  }
});

it('prune frees intermediate cache, keeps tagged images exportable, runnable and their steps cached', async (t) => {
  const store = await freshStore();
  try {
    const ctx = await makeContext({ 'app.txt': 'x\n' });
    await build(store.root, ctx, MULTISTAGE('one'), ['-t', 'app:v1']);
    const pruned = await ok(['prune', '-f'], { root: store.root });
    t.not(reclaimedBytes(pruned.stdout), '0B', pruned.stdout);
    t.regex(await check(store.root), /store is consistent/);
    // The final stage's entries were kept: only the pruned build stage runs again.
    const again = await build(store.root, ctx, MULTISTAGE('one'), ['-t', 'app:v1']);
    t.regex(again.stderr, /COPY app\.txt \/app\.txt\n#\d+ CACHED/);

    const all = await ok(['prune', '--all', '-f'], { root: store.root });
    t.not(reclaimedBytes(all.stdout), '0B', all.stdout);
    t.regex(await check(store.root), /store is consistent/);
    const du = JSON.parse((await ok(['du', '--format', 'json'], { root: store.root })).stdout);
    t.is(du.cacheEntries.count, 0);
    t.is(du.blobs.reclaimableBytes, 0);

    const out = path.join(await tempDir('tsbuild-save-'), 'app.tar');
    await ok(['save', '-o', out, 'app:v1'], { root: store.root });
    t.true((await stat(out)).size > 0);
    const run = await ok(['run', '--rm', 'app:v1', 'cat', '/small', '/app.txt'], { root: store.root });
    t.is(run.stdout, 'one\nx\n');
    // And it still builds, from scratch for the cache, reusing nothing stale.
    await build(store.root, ctx, MULTISTAGE('one'), ['-t', 'app:v1']);
    t.regex(await check(store.root), /store is consistent/);
  } finally {
    await store.dispose();
  }
});

it('the configured size limit is enforced after a build, keeping the images', async (t) => {
  const store = await freshStore();
  try {
    const ctx = await makeContext({ 'app.txt': 'x\n' });
    const r = await build(store.root, ctx, MULTISTAGE('limit'), ['-t', 'app:v1'], { TSBUILD_GC_KEEP_STORAGE: '1MB' });
    t.regex(r.stderr, /cache size limit/);
    const du = JSON.parse((await ok(['du', '--format', 'json'], { root: store.root })).stdout);
    t.is(du.blobs.reclaimableBytes, 0);
    t.regex(await check(store.root), /store is consistent/);
    const run = await ok(['run', '--rm', 'app:v1', 'cat', '/small'], { root: store.root });
    t.is(run.stdout, 'limit\n');
  } finally {
    await store.dispose();
  }
});

it('within the size limit a build removes nothing, and every snapshot it made has its size remembered', async (t) => {
  const store = await freshStore();
  try {
    const ctx = await makeContext({ 'app.txt': 'x\n' });
    const r = await build(store.root, ctx, MULTISTAGE('within'), ['-t', 'app:v1'], { TSBUILD_GC_KEEP_STORAGE: '10GB' });
    t.notRegex(r.stderr, /cache size limit/);
    // Read before `du`, which would measure what the build left unmeasured.
    const sizes = JSON.parse(await readFile(path.join(store.root, 'gc', 'sizes.json'), 'utf8')) as { snapshots: Record<string, number>; blobs: Record<string, number> };
    const du = JSON.parse((await ok(['du', '--format', 'json'], { root: store.root })).stdout);
    t.true(du.snapshots.reclaimableBytes > 0);
    const dirs = (await readdir(path.join(store.root, 'snapshots'))).filter((n) => /^[0-9a-f]+$/.test(n));
    t.true(dirs.length >= 3);
    for (const name of dirs) t.is(sizes.snapshots[name], await treeBytes(path.join(store.root, 'snapshots', name)), name);
    t.is(Object.keys(sizes.blobs).length, du.blobs.count);
    t.regex(await check(store.root), /store is consistent/);
  } finally {
    await store.dispose();
  }
});
