// The local memo of whole build answers (memo/local-memo.ts): an identical
// no-op rebuild is answered by the lean bundle from the store, with the
// output, image id and --iidfile of a real one, and every change that
// could change the result makes the next build a real one. A RUN step that
// writes random bytes makes a step that ran again show as a new image id;
// TSBUILD_MEMO_DEBUG makes an answer from the memo say so, which only the
// lean path that answers prints.
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { FINE_RACY_MARGIN_MS, RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { STAT_CHECK_NAME } from '../builder/remote/native-stat-check.js';
import { storeSuite, tsbuild, tempDir, CLIENT_CACHE, PROJECT_ROOT, type CliResult } from './helpers/cli.js';
import { build as solve } from '../builder/pipeline/build.js';
import { toBuildOptions } from '../builder/cli/build-request.js';
import { memoRecorder, type MemoRecorder } from '../builder/cli/local-memo-record.js';
import { buildManifest, startContextCheck } from '../builder/remote/context-manifest.js';
import type { BuildResult, CliBuildRequest } from '../builder/pipeline/options.js';
import { makeContext } from './e2e-image-helpers.js';
import { ResultIndex, resultEntryPath } from '../cache/result-index.js';
import { checksHold, identity } from '../builder/memo/memo-rules.js';
import { memoChecksOf } from '../builder/memo/memo-checks.js';
import { stampsSoFar } from '../cache/version-stamp.js';
import { ImageStore } from '../builder/image/store.js';
import { ContentStore } from '../cache/content-store.js';
import type { Digest } from '../cache/digest.js';
import { bundleLog } from './helpers/bundle-log.js';

const suite = storeSuite('local build memo', { serial: true });
const { it } = suite;

const STAMP = 'RUN head -c 16 /dev/urandom | od -An -tx1 > /stamp && echo';
const DEBUG = { TSBUILD_MEMO_DEBUG: '1' };
const ANSWERED = 'tsbuild: answered from the local memo of an identical build\n';

const fromMemo = (r: CliResult) => r.stderr.includes(ANSWERED);

async function run(args: string[], env: NodeJS.ProcessEnv = {}, bin?: string): Promise<CliResult> {
  return tsbuild(args, { root: suite.store.root, env: { ...DEBUG, ...env }, bin });
}

/** `build -q`: the image id, and whether the memo answered. */
async function build(ctx: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ id: string; memo: boolean; r: CliResult }> {
  const r = await run(['build', '-q', ...args, ctx], env);
  if (r.code !== 0) throw new Error(`build failed (${r.code}): ${r.stderr}`);
  return { id: r.stdout.trim(), memo: fromMemo(r), r };
}

/** A context older than the snapshot's racy margin, so its stat check can confirm it. */
async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const ctx = await makeContext({ Dockerfile: dockerfile, 'app.txt': 'app\n', ...files });
  await settle();
  return ctx;
}

const settle = () => new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
// More than the memo's tick rule: the store a build changed is older than the next build's start by more than that.
const tick = () => new Promise((r) => setTimeout(r, 60));

/** A build, then the same build again, answered from the memo the first one recorded; the id. */
async function memoized(ctx: string, args: string[] = []): Promise<string> {
  const first = await build(ctx, args);
  const second = await build(ctx, args);
  if (first.memo) throw new Error('a build was answered before one recorded');
  if (!second.memo) throw new Error(`the build after an identical one was not answered from the memo:\n${second.r.stderr}`);
  if (second.id !== first.id) throw new Error('a no-op rebuild changed the image');
  return first.id;
}

const withoutTimes = (s: string) => s.replace(ANSWERED, '').replace(/\d+\.\d+s/g, 'T');

/**
 * app.txt written, then the build solved and its answer recorded by
 * `recorded` (the test's recorder, with `between` run after the solve):
 * with nothing in between, the CLI's next build is answered; with app.txt
 * rewritten in between (same size, its mtime put back), it is not, and
 * the image shows the rewrite (the RUN copies app.txt to /copy.txt).
 */
/** The build solved with the recorder told what build-runner.ts tells it; `idle`: how often a RUN said it runs. */
async function solveRecorded(req: CliBuildRequest, recorder: MemoRecorder): Promise<{ result: BuildResult; idle: number }> {
  let idle = 0;
  const result = await solve(req.build, {
    onEvent: (e) => recorder.onEvent(e), onContextWalk: (w, whole) => recorder.onContextWalk(w, whole), contextWalk: 'keep',
    onIdle: () => { idle++; recorder.onIdle(); },
  });
  return { result, idle };
}

async function answeredUnlessRewritten(t: ExecutionContext, ctx: string, tag: string, recorded: (content: string, between: () => Promise<void>) => Promise<string>): Promise<void> {
  const id = await recorded('one\n', async () => undefined);
  const next = await build(ctx, ['-t', tag]);
  t.true(next.memo, next.r.stderr);
  t.is(next.id, id);
  const file = path.join(ctx, 'app.txt');
  const edited = await recorded('two\n', async () => {
    const st = statSync(file);
    writeFileSync(file, 'TWO\n');
    utimesSync(file, st.atime, st.mtime);
  });
  const afterEdit = await build(ctx, ['-t', tag]);
  t.false(afterEdit.memo);
  t.not(afterEdit.id, edited);
  t.is((await run(['run', '--rm', tag, 'cat', '/copy.txt'])).stdout, 'TWO\n');
}

it('the build after a cold one is answered from the memo, with the output, id and --iidfile of a full no-op', async (t) => {
  const ctx = await context(`FROM busybox:latest\nCOPY app.txt /app.txt\n${STAMP}\n`);
  const dir = await tempDir('tsbuild-memo-iid-');
  const args = (n: number) => ['build', '--progress', 'plain', '-t', 'memo-a:latest', '--iidfile', path.join(dir, `iid${n}`), ctx];
  const cold = await run(args(1));
  t.is(cold.code, 0, cold.stderr);
  const answered = await run(args(2));
  t.is(answered.code, 0, answered.stderr);
  t.false(fromMemo(cold));
  t.true(fromMemo(answered), answered.stderr);
  // What the same no-op shows the whole way.
  const full = await run(args(3), { TSBUILD_NO_MEMO: '1' });
  t.is(full.code, 0, full.stderr);
  t.is(withoutTimes(answered.stderr), withoutTimes(full.stderr));
  t.regex(answered.stderr, /RUN head -c 16[^\n]*\n#\d+ CACHED/);
  const id = await readFile(path.join(dir, 'iid1'), 'utf8');
  t.regex(id, /^sha256:[0-9a-f]{64}$/);
  t.is(await readFile(path.join(dir, 'iid2'), 'utf8'), id);
  t.is(await readFile(path.join(dir, 'iid3'), 'utf8'), id);
  t.regex(answered.stderr, new RegExp(`writing image ${id} done`));
  // And the other ways to show it: quiet prints the id, rawjson the recorded records.
  const quiet = await build(ctx, ['-t', 'memo-a:latest']);
  t.true(quiet.memo);
  t.is(quiet.id, id);
  const raw = await run(['build', '--progress', 'rawjson', '-t', 'memo-a:latest', ctx]);
  t.true(fromMemo(raw));
  t.true(raw.stderr.replace(ANSWERED, '').trim().split('\n').every((l) => 'vertexes' in JSON.parse(l) || 'statuses' in JSON.parse(l) || 'logs' in JSON.parse(l) || 'warnings' in JSON.parse(l)));
  // The answer came from the lean bundle alone: the full CLI, which holds the solver, was not even read.
  const noted = bundleLog(dir, path.join(dir, 'bundles.txt'));
  const hit = await run(args(4), noted.env);
  t.true(fromMemo(hit), hit.stderr);
  t.deepEqual(noted.bundles(), ['tsbuild-remote.cjs']);
  // TSBUILD_NO_MEMO starts in the full CLI; a miss (a build that may not be memoized) goes on there (last: it moves the tag).
  const off = bundleLog(dir, path.join(dir, 'bundles-off.txt'));
  const offRun = await run(args(5), { ...off.env, TSBUILD_NO_MEMO: '1' });
  t.is(offRun.code, 0, offRun.stderr);
  t.false(fromMemo(offRun));
  t.deepEqual(off.bundles(), ['tsbuild.cjs']);
  const miss = bundleLog(dir, path.join(dir, 'bundles-miss.txt'));
  const missRun = await run([...args(6).slice(0, -1), '--no-cache', ctx], miss.env);
  t.is(missRun.code, 0, missRun.stderr);
  t.deepEqual(miss.bundles(), ['tsbuild-remote.cjs', 'tsbuild.cjs']);
});

it('an edited file builds the full way, and the image holds the edit (a context big enough for the native stat check)', async (t) => {
  const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`src/d${i % 10}/f${i}.txt`, `${i}\n`]));
  const ctx = await context('FROM busybox:latest\nCOPY src /src\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy.txt\n', many);
  const id = await memoized(ctx, ['-t', 'memo-edit:latest']);
  await writeFile(path.join(ctx, 'app.txt'), 'edited\n');
  const after = await build(ctx, ['-t', 'memo-edit:latest']);
  t.false(after.memo);
  t.not(after.id, id);
  const shown = await run(['run', '--rm', 'memo-edit:latest', 'cat', '/copy.txt']);
  t.is(shown.code, 0, shown.stderr);
  t.is(shown.stdout, 'edited\n');
  // Soon after an edit the no-ops are answered again: on a file system with
  // fine timestamps an entry is trusted 0.1 s after its change (2 s elsewhere).
  if (statSync(path.join(ctx, 'app.txt')).ctimeMs % 1 !== 0) {
    await new Promise((r) => setTimeout(r, FINE_RACY_MARGIN_MS + 100));
    t.is(await build(ctx, ['-t', 'memo-edit:latest']).then((b) => b.id), after.id);
    t.true((await build(ctx, ['-t', 'memo-edit:latest'])).memo, 'the second no-op after an edit 0.2 s old');
  } else t.log('coarse file timestamps here: an edit is trusted after 2 s');
  // A file added beside it changes the listing: also the full way.
  await writeFile(path.join(ctx, 'new.txt'), 'new\n');
  t.false((await build(ctx, ['-t', 'memo-edit:latest'])).memo);
});

it('tag elsewhere, rmi and prune in between: the full way, and the tag is right again', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} tags\n`);
  const id = await memoized(ctx, ['-t', 'memo-tag:latest']);
  // The name moved to another image: the rebuild must move it back.
  t.is((await run(['tag', 'busybox:latest', 'memo-tag:latest'])).code, 0);
  const retagged = await build(ctx, ['-t', 'memo-tag:latest']);
  t.false(retagged.memo);
  t.is(retagged.id, id);
  t.is((await run(['inspect', '--format', '{{.Id}}', 'memo-tag:latest'])).stdout.trim(), id);
  // rmi of the tag: the rebuild tags it again.
  t.is(await memoized(ctx, ['-t', 'memo-tag:latest']).catch(() => id), id);
  t.is((await run(['rmi', 'memo-tag:latest'])).code, 0);
  const afterRmi = await build(ctx, ['-t', 'memo-tag:latest']);
  t.false(afterRmi.memo);
  t.is((await run(['inspect', '--format', '{{.Id}}', 'memo-tag:latest'])).stdout.trim(), id);
  // prune -a removes the cache: the step runs again (a new id), and the memo is gone.
  await tick();
  await build(ctx, ['-t', 'memo-tag:latest']);
  t.is((await run(['prune', '-af'])).code, 0);
  t.deepEqual(readdirSafe(path.join(suite.store.root, 'memo')), []);
  const afterPrune = await build(ctx, ['-t', 'memo-tag:latest']);
  t.false(afterPrune.memo);
  t.not(afterPrune.id, id);
});

it('an untagged image removed by its id: the full way, and the image is there again', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} untagged\n`);
  const id = await memoized(ctx);
  // No name changes: only the image's record goes (its shard, not the index).
  t.is((await run(['rmi', id])).code, 0);
  const again = await build(ctx);
  t.false(again.memo);
  t.is(again.id, id);
  t.is((await run(['inspect', '--format', '{{.Id}}', id])).stdout.trim(), id);
});

it('a corrupt or foreign memo file is a miss', async (t) => {
  const ctx = await context(`FROM busybox:latest\n${STAMP} corrupt\n`);
  const id = await memoized(ctx, ['-t', 'memo-corrupt:latest']);
  const dir = path.join(suite.store.root, 'memo');
  for (const name of readdirSafe(dir)) writeFileSync(path.join(dir, name), '{"format":1,"messages":[');
  const after = await build(ctx, ['-t', 'memo-corrupt:latest']);
  t.false(after.memo);
  t.is(after.id, id);
  // That build recorded the answer again.
  const again = await build(ctx, ['-t', 'memo-corrupt:latest']);
  t.true(again.memo);
  t.is(again.id, id);
  // A well-formed answer that points outside the store (the others are earlier tests' answers, made corrupt above).
  for (const name of readdirSafe(dir)) {
    const file = path.join(dir, name);
    const text = readFileSync(file, 'utf8');
    if (text.endsWith('[')) continue;
    const data = JSON.parse(text) as { checks: { path: string }[] };
    data.checks[0]!.path = '/etc/hostname';
    writeFileSync(file, JSON.stringify(data));
  }
  t.false((await build(ctx, ['-t', 'memo-corrupt:latest'])).memo);
});

it('never from the memo: --no-cache, --secret, -o type=tar, --cache-to, TSBUILD_NO_MEMO', async (t) => {
  const ctx = await context('FROM busybox:latest\nCOPY app.txt /app.txt\n');
  const out = await tempDir('tsbuild-memo-out-');
  const secret = path.join(out, 'secret');
  writeFileSync(secret, 's3cret');
  const cases: [string, string[], NodeJS.ProcessEnv][] = [
    ['--no-cache', ['--no-cache'], {}],
    ['--secret', ['--secret', `id=s,src=${secret}`], {}],
    ['-o type=tar', ['-o', `type=tar,dest=${path.join(out, 'img.tar')}`], {}],
    ['--cache-to', ['--cache-to', `type=local,dest=${path.join(out, 'cache')}`], {}],
    ['TSBUILD_NO_MEMO', ['-t', 'memo-never:latest'], { TSBUILD_NO_MEMO: '1' }],
  ];
  for (const [what, args, env] of cases) {
    for (let i = 0; i < 3; i++) {
      const r = await run(['build', '--progress', 'plain', ...args, ctx], env);
      t.is(r.code, 0, `${what}: ${r.stderr}`);
      t.false(fromMemo(r), `${what} was answered from the memo`);
      await tick();
    }
  }
  // TSBUILD_NO_MEMO recorded nothing either: the same build without it records first, then is answered.
  const recording = await build(ctx, ['-t', 'memo-never:latest']);
  t.false(recording.memo);
  t.true((await build(ctx, ['-t', 'memo-never:latest'])).memo);
});

it('without the native stat check, the JavaScript check answers, and sees an edit', async (t) => {
  // The same bundles (hard links: the memo's key names the bundle file) in a package without runner-native/build/tsbuild-stat-check.
  const pkg = await tempDir('tsbuild-memo-pkg-');
  for (const f of ['package.json']) copyFileSync(path.join(PROJECT_ROOT, f), path.join(pkg, f));
  const linkTree = (rel: string) => {
    mkdirSync(path.join(pkg, rel), { recursive: true });
    for (const e of readdirSync(path.join(PROJECT_ROOT, rel), { withFileTypes: true })) {
      if (e.name === STAT_CHECK_NAME || e.name === 'v8-cache') continue;
      if (e.isDirectory()) linkTree(path.join(rel, e.name));
      else linkSync(path.join(PROJECT_ROOT, rel, e.name), path.join(pkg, rel, e.name));
    }
  };
  for (const dir of ['bin', 'dist/bundle', 'runner-native']) linkTree(dir);
  const bin = path.join(pkg, 'bin', 'tsbuild.js');
  const ctx = await context('FROM busybox:latest\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy.txt\n');
  const id = await memoized(ctx, ['-t', 'memo-js:latest']);
  const answered = await run(['build', '-q', '-t', 'memo-js:latest', ctx], {}, bin);
  t.is(answered.code, 0, answered.stderr);
  t.true(fromMemo(answered), answered.stderr);
  t.is(answered.stdout.trim(), id);
  await writeFile(path.join(ctx, 'app.txt'), 'edited by js\n');
  const edited = await run(['build', '-q', '-t', 'memo-js:latest', ctx], {}, bin);
  t.is(edited.code, 0, edited.stderr);
  t.false(fromMemo(edited));
  t.not(edited.stdout.trim(), id);
  const shown = await run(['run', '--rm', 'memo-js:latest', 'cat', '/copy.txt']);
  t.is(shown.stdout, 'edited by js\n');
});

it('after a one-file change, the next build is answered from the memo, as a full no-op shows it', async (t) => {
  // The RUN outlasts the racy margin of a file system with fine timestamps:
  // the edit is older than that when the rebuild records its answer.
  // COPY . : the context's snapshot is made of the checksum's walk of it.
  const ctx = await context(`FROM busybox:latest\nCOPY . /ctx\nRUN cat /ctx/app.txt > /copy.txt && sleep ${(FINE_RACY_MARGIN_MS + 100) / 1000}\n`, { 'src/a.txt': 'a\n', 'src/b/c.txt': 'c\n' });
  const dir = await tempDir('tsbuild-memo-one-');
  const args = (n: number) => ['build', '--progress', 'plain', '-t', 'memo-one:latest', '--iidfile', path.join(dir, `iid${n}`), ctx];
  await memoized(ctx, ['-t', 'memo-one:latest']);
  await writeFile(path.join(ctx, 'app.txt'), 'one file changed\n');
  if (statSync(path.join(ctx, 'app.txt')).ctimeMs % 1 === 0) return void t.log('coarse file timestamps here: an edit is trusted after 2 s, the next no-op is answered later');
  const changed = await run(args(1));
  t.is(changed.code, 0, changed.stderr);
  t.false(fromMemo(changed));
  const answered = await run(args(2));
  t.is(answered.code, 0, answered.stderr);
  t.true(fromMemo(answered), answered.stderr);
  const full = await run(args(3), { TSBUILD_NO_MEMO: '1' });
  t.is(withoutTimes(answered.stderr), withoutTimes(full.stderr));
  const id = await readFile(path.join(dir, 'iid1'), 'utf8');
  t.is(await readFile(path.join(dir, 'iid2'), 'utf8'), id);
  t.is(await readFile(path.join(dir, 'iid3'), 'utf8'), id);
  t.is((await run(['run', '--rm', 'memo-one:latest', 'cat', '/copy.txt'])).stdout, 'one file changed\n');
  // That snapshot says what a walk of the context says.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const saved = startContextCheck(ctx, path.join(ctx, 'Dockerfile')).snapshot;
  t.true(saved.checkable);
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-memo-xdg-');
  try {
    t.is((await buildManifest(ctx, path.join(ctx, 'Dockerfile'))).digest, saved.digest);
  } finally {
    process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  }
});

it('a file rewritten just after the build that recorded, its mtime put back, is not answered stale', async (t) => {
  const ctx = await context('FROM busybox:latest\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy.txt\n');
  const file = path.join(ctx, 'app.txt');
  const first = await build(ctx, ['-t', 'memo-racy:latest']);
  // The same size, and the same mtime: only its ctime tells.
  const st = statSync(file);
  writeFileSync(file, 'APP\n');
  utimesSync(file, st.atime, st.mtime);
  const after = await build(ctx, ['-t', 'memo-racy:latest']);
  t.false(after.memo);
  t.not(after.id, first.id);
  t.is((await run(['run', '--rm', 'memo-racy:latest', 'cat', '/copy.txt'])).stdout, 'APP\n');
});

it('an answer recorded while the context or a tag changed is not answered stale', async (t) => {
  // The CLI's recorder, in this process, with what happens between the
  // solve of the answer and its recording put in by the test.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const env = { ...process.env, TSBUILD_ROOT: suite.store.root };
  const ctx = await context('FROM busybox:latest\nCOPY . /ctx\nRUN cat /ctx/app.txt > /copy.txt\n');
  const file = path.join(ctx, 'app.txt');
  const args = ['-q', '-t', 'memo-race:latest', ctx];
  const recorded = async (content: string, meanwhile: () => Promise<void>) => {
    writeFileSync(file, content);
    await new Promise((r) => setTimeout(r, FINE_RACY_MARGIN_MS + 50));
    const req = toBuildOptions(args, env) as CliBuildRequest;
    const recorder = memoRecorder(req, env)!;
    const result = await solve(req.build, { onEvent: (e) => recorder.onEvent(e), onContextWalk: (w, whole) => recorder.onContextWalk(w, whole) });
    await recorder.record(result, async (io) => {
      const answer = await solve(req.build, io);
      await meanwhile();
      return answer;
    });
    return result.imageId;
  };
  const copied = async () => (await run(['run', '--rm', 'memo-race:latest', 'cat', '/copy.txt'])).stdout;
  // Nothing in between: the CLI's next build is answered (the recorder is the
  // CLI's); rewritten after the answer was solved: not answered.
  await answeredUnlessRewritten(t, ctx, 'memo-race:latest', recorded);
  // The tag moved by another process after the answer was solved.
  const tagged = await recorded('six\n', async () => {
    t.is((await run(['tag', 'busybox:latest', 'memo-race:latest'])).code, 0);
  });
  const afterTag = await build(ctx, ['-t', 'memo-race:latest']);
  t.false(afterTag.memo);
  t.is(afterTag.id, tagged);
  t.is((await run(['inspect', '--format', '{{.Id}}', 'memo-race:latest'])).stdout.trim(), tagged);
  t.is(await copied(), 'six\n');
  // The tag moved by a writer that wrote its index file well before the
  // answer's solve started and renamed it in only once the solve had read
  // the old one (image/store.ts renames the index in once the image's
  // blobs are durable, which may take long): the file's time is old, its
  // rename new.
  const index = path.join(suite.store.root, 'images', 'index.json');
  const renamed = await recorded('ten\n', async () => {
    const data = JSON.parse(readFileSync(index, 'utf8')) as { tags: Record<string, string> };
    data.tags['docker.io/library/memo-race:latest'] = data.tags['docker.io/library/busybox:latest']!;
    const tmp = `${index}.tmp-test`;
    writeFileSync(tmp, JSON.stringify(data, null, 1) + '\n');
    const long = new Date(Date.now() - 60_000);
    utimesSync(tmp, long, long);
    renameSync(tmp, index);
  });
  const afterRename = await build(ctx, ['-t', 'memo-race:latest']);
  t.false(afterRename.memo);
  t.is(afterRename.id, renamed);
  t.is((await run(['inspect', '--format', '{{.Id}}', 'memo-race:latest'])).stdout.trim(), renamed);
});

it('the recording reuses the build\'s walk: the snapshot of a fresh walk, and a change made before the recording is not answered stale', async (t) => {
  // The CLI's recorder, in this process, as the CLI runs it (the build keeps
  // its walk, the second solve takes it), with what happens between the
  // build and its recording put in by the test.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const env = { ...process.env, TSBUILD_ROOT: suite.store.root };
  const ctx = await context('FROM busybox:latest\nCOPY . /ctx\nRUN cat /ctx/app.txt > /copy.txt && ls /ctx > /list.txt\n');
  const file = path.join(ctx, 'app.txt');
  const args = ['-q', '-t', 'memo-reuse:latest', ctx];
  const req = toBuildOptions(args, env) as CliBuildRequest;
  const recorded = async (content: string, between: () => Promise<void>) => {
    writeFileSync(file, content);
    await new Promise((r) => setTimeout(r, FINE_RACY_MARGIN_MS + 50));
    const recorder = memoRecorder(req, env)!;
    const result = await solve(req.build, { onEvent: (e) => recorder.onEvent(e), onContextWalk: (w, whole) => recorder.onContextWalk(w, whole), contextWalk: 'keep' });
    await between();
    // Past the racy margin: the snapshot the recording saves trusts what changed in between.
    await new Promise((r) => setTimeout(r, FINE_RACY_MARGIN_MS + 50));
    let reused = false;
    await recorder.record(result, (io) => { reused = io.contextWalk === 'reuse'; return solve(req.build, io); });
    t.true(reused, 'the second solve was asked to reuse the walk');
    return result.imageId;
  };
  const shown = async (f: string) => (await run(['run', '--rm', 'memo-reuse:latest', 'cat', f])).stdout;
  const snapshotOf = () => {
    const s = startContextCheck(ctx, req.build.dockerfilePath).snapshot;
    return { digest: s.digest, checkable: s.checkable, rows: Array.from({ length: s.size }, (_, i) => s.rowAt(i)) };
  };
  // Nothing in between: the snapshot saved is the one a walk of its own makes, and the next build is answered.
  const id = await recorded('one\n', async () => undefined);
  const saved = snapshotOf();
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-memo-fresh-walk-');
  try {
    const fresh = await buildManifest(ctx, req.build.dockerfilePath);
    t.false(fresh.unchanged);
    t.is(saved.digest, fresh.digest);
    t.deepEqual(saved, snapshotOf());
  } finally {
    process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  }
  t.true(saved.checkable);
  const next = await build(ctx, ['-t', 'memo-reuse:latest']);
  t.true(next.memo, next.r.stderr);
  t.is(next.id, id);
  // Rewritten with the same size, its mtime put back, after the build walked and before the recording.
  await recorded('two\n', async () => {
    const st = statSync(file);
    writeFileSync(file, 'TWO\n');
    utimesSync(file, st.atime, st.mtime);
  });
  const afterEdit = await build(ctx, ['-t', 'memo-reuse:latest']);
  t.false(afterEdit.memo);
  t.is(await shown('/copy.txt'), 'TWO\n');
  // A file added to the context's root after the build walked, before the recording.
  await recorded('six\n', async () => writeFileSync(path.join(ctx, 'added.txt'), 'added\n'));
  const afterAdd = await build(ctx, ['-t', 'memo-reuse:latest']);
  t.false(afterAdd.memo);
  t.regex(await shown('/list.txt'), /^added\.txt$/m);
});

it('a build that reads part of its context has the context walked while its RUN runs; a change after that walk is not answered stale', async (t) => {
  // BuildIO.onIdle: the recorder walks the context (and saves its
  // snapshot) while the RUN's command runs, not after the build; the
  // recording's second solve is what tells a change made since.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const env = { ...process.env, TSBUILD_ROOT: suite.store.root };
  const ctx = await context('FROM busybox:latest\nCOPY app.txt /ctx/app.txt\nRUN sleep 0.2 && cat /ctx/app.txt > /copy.txt\n', { 'other.txt': 'not copied\n' });
  const file = path.join(ctx, 'app.txt');
  const req = toBuildOptions(['-q', '-t', 'memo-idle:latest', ctx], env) as CliBuildRequest;
  const snapshotDigest = () => startContextCheck(ctx, req.build.dockerfilePath).snapshot.digest;
  const recorded = async (content: string, between: () => Promise<void>) => {
    writeFileSync(file, content);
    await new Promise((r) => setTimeout(r, FINE_RACY_MARGIN_MS + 50));
    const before = snapshotDigest();
    const recorder = memoRecorder(req, env)!;
    const { result, idle } = await solveRecorded(req, recorder);
    t.is(idle, 1, 'the build told of its one RUN');
    // Nothing but the recorder's walk during the RUN saves the snapshot (the walk starts at once).
    t.not(snapshotDigest(), before, 'the snapshot was saved while the build ran');
    await between();
    await recorder.record(result, (io) => solve(req.build, io));
    return result.imageId;
  };
  // Rewritten after the walk and before the recording: not answered.
  await answeredUnlessRewritten(t, ctx, 'memo-idle:latest', recorded);
});

it('a file the build read that is too recent for a walk to confirm is not walked while the RUN runs, and nothing is recorded', async (t) => {
  // An edit saved just before the build (here: a time a minute ahead, so
  // that it stays too recent however slow the machine): a walk during the
  // RUN could not confirm the context, so none is made, and record() gives
  // up for the same reason.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const env = { ...process.env, TSBUILD_ROOT: suite.store.root };
  const ctx = await context('FROM busybox:latest\nCOPY app.txt /ctx/app.txt\nRUN cat /ctx/app.txt > /copy.txt\n', { 'other.txt': 'not copied\n' });
  const file = path.join(ctx, 'app.txt');
  writeFileSync(file, 'fresh\n');
  const ahead = new Date(Date.now() + 60_000);
  utimesSync(file, ahead, ahead);
  const req = toBuildOptions(['-q', '-t', 'memo-fresh:latest', ctx], env) as CliBuildRequest;
  const snapshotDigest = () => startContextCheck(ctx, req.build.dockerfilePath).snapshot.digest;
  const before = snapshotDigest();
  const recorder = memoRecorder(req, env)!;
  const { result, idle } = await solveRecorded(req, recorder);
  t.is(idle, 1, 'the build told of its one RUN');
  let asked = false;
  await recorder.record(result, async (io) => {
    asked = true;
    return solve(req.build, io);
  });
  t.false(asked, 'no second solve');
  t.is(snapshotDigest(), before, 'no walk saved the snapshot');
});

it('a store time ahead of the clock by more than the tick rule is not waited for: nothing is solved again or recorded', async (t) => {
  // A file system whose clock runs ahead (a server's) stamps the store's
  // writes in the future: waiting for them to age would hold every
  // recording for as long as the clocks differ. The build's cache entries'
  // directories are what the tick rule still applies to (the image index
  // is told apart by its version stamp); a time another writer put there
  // is not this process's stamp.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const env = { ...process.env, TSBUILD_ROOT: suite.store.root };
  const ctx = await context('FROM busybox:latest\nCOPY app.txt /ctx/app.txt\nRUN cat /ctx/app.txt > /copy.txt\n');
  writeFileSync(path.join(ctx, 'app.txt'), 'ahead\n');
  await settle();
  const req = toBuildOptions(['-q', '-t', 'memo-ahead:latest', ctx], env) as CliBuildRequest;
  const recorder = memoRecorder(req, env)!;
  const result = await solve(req.build, { onEvent: (e) => recorder.onEvent(e), onContextWalk: (w, whole) => recorder.onContextWalk(w, whole) });
  t.truthy(result.cacheKeys);
  const dirs = [...new Set(result.cacheKeys!.map((k) => path.dirname(resultEntryPath(path.join(suite.store.root, 'cache-index'), k))))];
  const memoFiles = () => readdirSync(path.join(suite.store.root, 'memo'), { withFileTypes: true }).filter((d) => d.isFile() && !d.name.startsWith('.')).length;
  mkdirSync(path.join(suite.store.root, 'memo'), { recursive: true });
  const before = memoFiles();
  const ahead = new Date(Date.now() + 3_600_000);
  utimesSync(dirs[0]!, ahead, ahead);
  try {
    let asked = false;
    await recorder.record(result, async (io) => {
      asked = true;
      return solve(req.build, io);
    });
    t.false(asked);
    t.is(memoFiles(), before);
  } finally {
    const now = new Date();
    utimesSync(dirs[0]!, now, now);
  }
});

it('a build\'s own writes are recorded at once, by their version stamps, and a change right after them is still seen', async (t) => {
  // The image index and the cache entries' directories were all written at
  // the build's end: by kernel times alone, an answer could be recorded
  // only a tick later. Stamped, they are recorded at once, and a change in
  // the same tick still changes what the checks compare.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const env = { ...process.env, TSBUILD_ROOT: suite.store.root };
  const ctx = await context(`FROM busybox:latest\nCOPY app.txt /ctx/app.txt\nRUN cat /ctx/app.txt > /copy.txt # ${Date.now()}\n`);
  const req = toBuildOptions(['-q', '-t', 'memo-own:latest', ctx], env) as CliBuildRequest;
  const result = await solve(req.build, {});
  const root = suite.store.root;
  const index = path.join(root, 'images', 'index.json');
  const dirs = [...new Set(result.cacheKeys!.map((k) => path.dirname(resultEntryPath(path.join(root, 'cache-index'), k))))];
  const newest = Math.max(statSync(index).mtimeMs, ...dirs.map((d) => statSync(d).mtimeMs));
  // As if the same build had been asked again right after those writes.
  const found = await memoChecksOf(root, { keys: result.cacheKeys!, manifestDigest: result.manifestDigest }, { at: newest, index: identity(index, 'file'), stamps: stampsSoFar() });
  t.truthy(found);
  t.true(checksHold(found!.checks));
  // Another writer's entry renamed into one of those directories, at once (the kernel stamps its time).
  const foreign = path.join(dirs[0]!, `${'0'.repeat(64)}.json`);
  writeFileSync(`${foreign}.tmp`, '{}');
  renameSync(`${foreign}.tmp`, foreign);
  t.false(checksHold(found!.checks));
  rmSync(foreign);
  // The image index replaced at once, by a tag.
  const again = await memoChecksOf(root, { keys: result.cacheKeys!, manifestDigest: result.manifestDigest }, { at: newest, index: identity(index, 'file'), stamps: stampsSoFar() });
  t.falsy(again, 'the directory changed by another writer is not this process\'s stamp any more: the tick rule applies again');
  // A stamped put into that directory by a build of this process that came after the start (a server's concurrent one).
  const start = { at: Date.now(), index: identity(index, 'file'), stamps: stampsSoFar() };
  await new ResultIndex<object>(path.join(root, 'cache-index')).put(`sha256:${path.basename(dirs[0]!)}${'1'.repeat(62)}`, {});
  t.falsy(await memoChecksOf(root, { keys: result.cacheKeys!, manifestDigest: result.manifestDigest }, start));
  t.truthy(await memoChecksOf(root, { keys: result.cacheKeys!, manifestDigest: result.manifestDigest }, { ...start, stamps: stampsSoFar() }));
  const store = new ImageStore(root, new ContentStore(path.join(root, 'content')));
  const before = identity(index, 'file');
  await store.tag('memo-own:other', result.manifestDigest as Digest);
  t.not(identity(index, 'file'), before);
});

it('nothing is recorded, neither walk nor second solve, while an entry the build read is too recent for the snapshot to trust', async (t) => {
  // The CLI's recorder, in this process. A modification time ahead of the
  // clock keeps the edit recent for as long as the test needs it.
  process.env.XDG_CACHE_HOME = CLIENT_CACHE;
  const env = { ...process.env, TSBUILD_ROOT: suite.store.root };
  for (const copy of ['COPY . /ctx', 'COPY app.txt /ctx/app.txt']) {
    const ctx = await context(`FROM busybox:latest\n${copy}\nRUN cat /ctx/app.txt > /copy.txt\n`);
    const file = path.join(ctx, 'app.txt');
    const req = toBuildOptions(['-q', '-t', 'memo-recent:latest', ctx], env) as CliBuildRequest;
    const snapshotFile = startContextCheck(ctx, req.build.dockerfilePath).snapshot.file;
    const snapshotId = () => { const st = statSync(snapshotFile, { throwIfNoEntry: false }); return st && `${st.ino}:${st.mtimeMs}`; };
    const recordOnce = async () => {
      const recorder = memoRecorder(req, env)!;
      const result = await solve(req.build, { onEvent: (e) => recorder.onEvent(e), onContextWalk: (w, whole) => recorder.onContextWalk(w, whole) });
      let asked = false;
      await recorder.record(result, async (io) => {
        asked = true;
        return solve(req.build, io);
      });
      return asked;
    };
    writeFileSync(file, `recent ${copy}\n`);
    const ahead = new Date(Date.now() + 5000);
    utimesSync(file, ahead, ahead);
    const before = snapshotId();
    t.false(await recordOnce(), `${copy}: solved again`);
    t.is(snapshotId(), before, `${copy}: the context was walked`);
    t.false((await build(ctx, ['-t', 'memo-recent:latest'])).memo, copy);
    // Once an edit is old enough the same recording goes the whole way, and the next build is answered.
    writeFileSync(file, `older ${copy}\n`);
    await new Promise((r) => setTimeout(r, (statSync(file).ctimeMs % 1 === 0 ? RACY_MARGIN_MS : FINE_RACY_MARGIN_MS) + 100));
    t.true(await recordOnce(), copy);
    t.not(snapshotId(), before, copy);
    t.true((await build(ctx, ['-t', 'memo-recent:latest'])).memo, copy);
  }
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.tmp-'));
  } catch {
    return [];
  }
}
