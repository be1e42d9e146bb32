// --cache-to type=local / --cache-from type=local end to end: a build
// exports its cache, a fresh store (another machine) imports it and runs
// nothing; mode=min vs max; repeated exports; cache mounts; and an
// unreachable registry that only costs a warning.
import test from 'ava';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { buildSkipReason, freshStore, tempDir, tsbuild } from './helpers/cli.js';
import { freePort } from './helpers/registry-server.js';
import { copyProject, readLocalCache, stepOutcomes } from './cache-io-helpers.js';
import { runIf } from './helpers/skip.js';

const skip = buildSkipReason();
const cleanups: (() => Promise<unknown>)[] = [];
test.after.always(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
});

async function store() {
  const s = await freshStore();
  cleanups.push(s.dispose);
  return s.root;
}

async function build(root: string, args: string[]) {
  const iid = path.join(await tempDir('tsbuild-iid-'), 'iid');
  const r = await tsbuild(['build', '--progress=plain', '--iidfile', iid, ...args], { root });
  return { ...r, id: r.code === 0 ? await readFile(iid, 'utf8') : '' };
}

runIf(skip, test.serial)('mode=max: a fresh store builds every step from the exported cache and gets the same image', async (t) => {
  const cache = path.join(await tempDir('tsbuild-cache-'), 'cache');
  const first = await build(await store(), ['-t', 'ms:v1', '--cache-to', `type=local,dest=${cache},mode=max`, await copyProject('multistage')]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stderr, /exporting cache to client directory/);

  // Another store and the project at another path: nothing host-specific may be in a key.
  const rootB = await store();
  const second = await build(rootB, ['-t', 'ms:v1', '--cache-from', `type=local,src=${cache}`, await copyProject('multistage')]);
  t.is(second.code, 0, second.stderr);
  const outcomes = stepOutcomes(second.stderr);
  t.true(outcomes.size >= 7, second.stderr);
  for (const [step, how] of outcomes) t.is(how, 'CACHED', `${step} should come from the imported cache`);
  t.is(second.id, first.id, 'same image config digest as the exporting build');
  // Only the final image's three layers are fetched, never the build stages' own.
  t.is((second.stderr.match(/load cached layer/g) ?? []).length, 3, second.stderr);

  // The imported results whose layers came down are local cache entries now.
  const third = await build(rootB, ['-t', 'ms:v1', await copyProject('multistage')]);
  t.is(third.code, 0, third.stderr);
  const again = stepOutcomes(third.stderr);
  for (const [step, how] of again) if (step.startsWith('[stage-3')) t.is(how, 'CACHED', step);
  t.is(third.id, first.id);
});

runIf(skip, test.serial)('mode=min exports only the final stage chain; the builder stages then run again', async (t) => {
  const base = await tempDir('tsbuild-cache-');
  const root = await store();
  const project = await copyProject('multistage');
  const min = await build(root, ['--cache-to', `type=local,dest=${base}/min`, '--cache-to', `type=local,dest=${base}/max,mode=max`, project]);
  t.is(min.code, 0, min.stderr);
  const minConfig = await readLocalCache(`${base}/min`);
  const maxConfig = await readLocalCache(`${base}/max`);
  // The final stage has three COPY steps; the words and numbers stages four steps more.
  t.is(minConfig.records.length, 3);
  t.is(maxConfig.records.length, 7);
  const maxKeys = new Set(maxConfig.records.map((r) => r.key));
  t.true(minConfig.records.every((r) => maxKeys.has(r.key)));

  const fresh = await build(await store(), ['--cache-from', `type=local,src=${base}/min`, await copyProject('multistage')]);
  t.is(fresh.code, 0, fresh.stderr);
  const outcomes = stepOutcomes(fresh.stderr);
  t.is(outcomes.get('[words 4/4] RUN sort words.txt > sorted.txt'), 'DONE', 'the builder stage is not in a min cache');
  for (const [step, how] of outcomes) if (step.startsWith('[stage-3')) t.is(how, 'CACHED', step);
});

runIf(skip, test.serial)('exporting to one directory again replaces its tag atomically and keeps other tags', async (t) => {
  const cache = path.join(await tempDir('tsbuild-cache-'), 'cache');
  const root = await store();
  const project = await tempDir('tsbuild-ctx-');
  const dockerfile = (word: string) => `FROM busybox:latest\nRUN echo ${word} > /word\n`;
  await writeFile(path.join(project, 'Dockerfile'), dockerfile('one'));
  t.is((await build(root, ['--cache-to', `type=local,dest=${cache}`, project])).code, 0);
  t.is((await build(root, ['--cache-to', `type=local,dest=${cache},tag=other`, project])).code, 0);
  await writeFile(path.join(project, 'Dockerfile'), dockerfile('two'));
  const again = await build(root, ['--cache-to', `type=local,dest=${cache}`, project]);
  t.is(again.code, 0, again.stderr);
  const index = JSON.parse(await readFile(path.join(cache, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
  t.deepEqual(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort(), ['latest', 'other']);
  t.notDeepEqual((await readLocalCache(cache)).records.map((r) => r.key), (await readLocalCache(cache, 'other')).records.map((r) => r.key));
  t.false((await readdir(cache)).some((e) => e.startsWith('.tmp')), 'no temp files left');

  // Two builds exporting to one directory at once: neither loses its tag.
  const [x, y] = await Promise.all(['x', 'y'].map(async (tag) => build(await store(), ['--cache-to', `type=local,dest=${cache},tag=${tag}`, project])));
  t.is(x!.code + y!.code, 0, x!.stderr + y!.stderr);
  const tags = (JSON.parse(await readFile(path.join(cache, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] }).manifests;
  t.deepEqual(tags.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort(), ['latest', 'other', 'x', 'y']);

  // The newest export serves "two" from the cache in a fresh store.
  const fresh = await build(await store(), ['--cache-from', `type=local,src=${cache}`, project]);
  t.is(stepOutcomes(fresh.stderr).get('[2/2] RUN echo two > /word'), 'CACHED', fresh.stderr);
});

runIf(skip, test.serial)('mounts=true carries RUN --mount=type=cache contents to a fresh store', async (t) => {
  const cache = path.join(await tempDir('tsbuild-cache-'), 'cache');
  const project = await tempDir('tsbuild-ctx-');
  await writeFile(path.join(project, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=cache,target=/var/cache/app,id=appcache,uid=1000 sh -c "mkdir -p /var/cache/app/sub && echo warm > /var/cache/app/sub/state && echo built > /built"\n');
  const first = await build(await store(), ['--cache-to', `type=local,dest=${cache},mounts=true`, project]);
  t.is(first.code, 0, first.stderr);
  const config = await readLocalCache(cache);
  t.deepEqual(config.mounts.map((m) => [m.id, m.uid]), [['appcache', 1000]]);

  // A different step reads the cache: only the imported mount can hold "warm".
  const reader = await tempDir('tsbuild-ctx-');
  await writeFile(path.join(reader, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=cache,target=/c,id=appcache cp /c/sub/state /state\n');
  const root = await store();
  const out = await tempDir('tsbuild-out-');
  const second = await build(root, ['--cache-from', `type=local,src=${cache}`, '-o', `type=local,dest=${out}`, reader]);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stderr, /imported cache mount appcache/);
  t.is(await readFile(path.join(out, 'state'), 'utf8'), 'warm\n');
  const hex = createHash('sha256').update('appcache').digest('hex').slice(0, 32);
  t.is((await stat(path.join(root, 'cache-mounts', hex))).uid, 1000, 'the directory keeps its owner');

  // Without mounts=true no mount is exported.
  const plain = path.join(await tempDir('tsbuild-cache-'), 'cache');
  const noMounts = await build(await store(), ['--cache-to', `type=local,dest=${plain}`, project]);
  t.is(noMounts.code, 0, noMounts.stderr);
  t.deepEqual((await readLocalCache(plain)).mounts, []);
});

runIf(skip, test.serial)('an unreachable or empty cache source is a warning; a failing export fails the build', async (t) => {
  const root = await store();
  const project = await tempDir('tsbuild-ctx-');
  await writeFile(path.join(project, 'Dockerfile'), 'FROM busybox:latest\nRUN echo hi > /hi\n');
  const port = await freePort();
  const unreachable = await build(root, ['--cache-from', `type=registry,ref=127.0.0.1:${port}/nothing:cache`, '--cache-from', `type=local,src=${await tempDir('tsbuild-empty-')}`, project]);
  t.is(unreachable.code, 0, unreachable.stderr);
  t.regex(unreachable.stderr, new RegExp(`failed to import cache from 127\\.0\\.0\\.1:${port}/nothing:cache: cannot reach`));
  t.regex(unreachable.stderr, /no build cache found at/);

  const failing = await build(root, ['--cache-to', `type=registry,ref=127.0.0.1:${port}/nothing:cache`, project]);
  t.not(failing.code, 0);
  t.regex(failing.stderr, new RegExp(`exporting build cache to 127\\.0\\.0\\.1:${port}/nothing:cache failed: cannot reach`));
  const ignored = await build(root, ['--cache-to', `type=registry,ref=127.0.0.1:${port}/nothing:cache,ignore-error=true`, project]);
  t.is(ignored.code, 0, ignored.stderr);

  const typo = await build(root, ['--cache-to', 'type=local,dest=/tmp/x,mode=everything', project]);
  t.not(typo.code, 0);
  t.regex(typo.stderr, /mode=everything: expected min or max/);
});
