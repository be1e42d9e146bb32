// End to end: `kill -9` of tsbuild at random points of COPY-heavy builds
// leaves no mount behind. COPY/ADD overlays live in the fsop helper's
// private mount namespace, and the helper dies with tsbuild (PDEATHSIG),
// so the kernel drops them; `du --check` then finds the store consistent.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite, tsbuild } from './helpers/cli.js';
import { buildKilledAfter, helpersOf, mountsUnder, sleep } from './helpers/kill-build.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = storeSuite('e2e copy kill', { serial: true });
const { it } = suite;

const TRIALS = 30;
const FILES = 800;

it(`kill -9 at ${TRIALS} random points of COPY-heavy builds leaves no mount, and du --check passes`, async (t) => {
  const files: Record<string, string> = { 'nonce.txt': '' };
  for (let i = 0; i < FILES; i++) files[`tree/d${i % 40}/f${i}.txt`] = `file ${i}\n`;
  const ctx = await makeContext(files);
  // The nonce changes every trial, so every COPY after it misses the cache.
  await writeFile(path.join(ctx, 'Dockerfile'), `FROM busybox:latest
COPY nonce.txt /nonce.txt
COPY tree /tree
COPY --from=busybox:latest /bin /bin-copy
COPY tree /tree-again
`);
  const root = suite.store.root;
  // A warm-up build (it unpacks the base image), then one uninterrupted
  // build tells how long to let the killed ones run.
  let span = 0;
  for (const run of ['warm-up', 'timed']) {
    await writeFile(path.join(ctx, 'nonce.txt'), run);
    const started = Date.now();
    const r = await tsbuild(['build', '--progress=plain', ctx], { root });
    t.is(r.code, 0, r.stderr);
    span = Math.max(200, Date.now() - started);
  }

  let killed = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    await writeFile(path.join(ctx, 'nonce.txt'), `trial ${trial} ${Math.random()}`);
    const { pid, finished } = await buildKilledAfter(root, ctx, Math.floor(Math.random() * span));
    if (!finished) killed++;
    // The helpers die with their tsbuild: wait for the kernel to reap them.
    for (let i = 0; i < 100 && (await helpersOf(pid)).length > 0; i++) await sleep(50);
    t.deepEqual(await helpersOf(pid), [], `trial ${trial}: no fsop helper outlives tsbuild`);
    t.deepEqual(await mountsUnder(root), [], `trial ${trial}: no mount left under the store`);
  }
  t.log(`${killed} of ${TRIALS} builds killed mid-way`);
  t.true(killed >= TRIALS / 3, 'many trials were killed before the build ended');

  const check = await tsbuild(['du', '--check'], { root });
  t.is(check.code, 0, check.stdout + check.stderr);
  t.regex(check.stdout, /store is consistent/);
  t.notRegex(check.stdout, /cleaned:/, 'nothing was left for du --check to clean');
  // And the store still builds.
  await writeFile(path.join(ctx, 'nonce.txt'), 'after');
  const after = await tsbuild(['build', '--progress=plain', ctx], { root });
  t.is(after.code, 0, after.stderr);
});

it('du --check unmounts and reports a host mount a killed tsbuild left', async (t) => {
  // What a tsbuild killed during a RUN --mount=from leaves: a host mount
  // under <store>/mounts named after a pid that no longer exists.
  const root = suite.store.root;
  const dead = await new Promise<number>((resolve) => {
    const c = spawn('true');
    c.on('exit', () => resolve(c.pid!));
  });
  const target = path.join(root, 'mounts', `src-${dead}-0123456789ab`);
  await mkdir(target, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', target]);
  t.deepEqual(await mountsUnder(root), [target]);
  const check = await tsbuild(['du', '--check'], { root });
  t.is(check.code, 0, check.stdout + check.stderr);
  t.regex(check.stdout, new RegExp(`cleaned: unmounted ${target}`));
  t.deepEqual(await mountsUnder(root), []);
});
