// The launcher's V8 code cache holds the functions of the run that wrote
// it. One written by a short run (`build --help`) must not leave every
// later build compiling most of what it runs: a run that compiled far more
// than its cache gave it writes the cache again, and a run that found
// what it needed leaves it alone; a rebuild of a context built before has
// a cache of its own. The launcher runs on a copy of the
// bundle, so the test owns its cache files.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT, buildSkipReason, tempDir } from './helpers/cli.js';
import { runIf } from './helpers/skip.js';
import { makeContext } from './e2e-image-helpers.js';
import { FINE_RACY_MARGIN_MS } from '../cache/checksum-cache.js';

// The launcher on a copy of the bundles, with a store of its own: `run`
// runs it (its stderr), `cache(variant)` is the cache file of a command
// variant (`build`, `build.rebuild`), by identity: a rewrite is a new file
// (temp and rename); noting a run's CPU time in the trailer keeps the file.
async function launcherCopy(t: ExecutionContext) {
  // Inside the project, so the bundle's external modules (ssh2) resolve from its node_modules.
  const copy = await mkdtemp(path.join(PROJECT_ROOT, 'dist', 'tmp-launcher-'));
  t.teardown(() => rm(copy, { recursive: true, force: true }));
  await mkdir(path.join(copy, 'bin'));
  await mkdir(path.join(copy, 'dist', 'bundle'), { recursive: true });
  // A local build starts in the lean bundle (its memo of identical builds), which hands a real build to the full one.
  for (const f of ['bin/tsbuild.js', 'bin/package.json', 'package.json', 'dist/bundle/tsbuild.cjs', 'dist/bundle/tsbuild-remote.cjs', 'dist/bundle/tsbuild.wrapped.js', 'dist/bundle/tsbuild-remote.wrapped.js']) await copyFile(path.join(PROJECT_ROOT, f), path.join(copy, f));
  // The native helpers (the COPY runs in the sandbox's file operations) are the project's own.
  await symlink(path.join(PROJECT_ROOT, 'runner-native'), path.join(copy, 'runner-native'));
  const cacheDir = path.join(copy, 'dist', 'bundle', 'v8-cache');
  const root = await tempDir('tsbuild-cache-store-');
  return {
    cache: async (variant: string) => {
      const names = (await readdir(cacheDir).catch(() => [])).filter((n) => n.endsWith(`-${variant}.bin`));
      t.true(names.length <= 1, names.join(', '));
      if (names.length === 0) return undefined;
      const st = await stat(path.join(cacheDir, names[0]!));
      return { size: st.size, id: `${st.ino}:${st.size}` };
    },
    run: (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
      // Without NODE_OPTIONS: ava's --enable-source-maps would make the launcher skip its cache.
      const env: NodeJS.ProcessEnv = { ...process.env, TSBUILD_ROOT: root, CI: 'true', ...extraEnv };
      delete env.NODE_OPTIONS;
      const r = spawnSync(process.execPath, [path.join(copy, 'bin', 'tsbuild.js'), ...args], { env, encoding: 'utf8' });
      t.is(r.status, 0, r.stderr);
      return r.stderr;
    },
  };
}

runIf(buildSkipReason())('a cache written by a short run is written again by a run that compiled far more, then kept', async (t) => {
  const { cache, run } = await launcherCopy(t);
  const buildCache = () => cache('build');

  run(['build', '--help']);
  const short = await buildCache();
  t.truthy(short, 'a successful run writes the cache');

  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY a.txt /a.txt\nCOPY sub /sub\n', 'a.txt': 'a\n', 'sub/b.txt': 'b\n' });
  run(['build', '--progress=plain', '-t', 'cache:v1', ctx]);
  const full = await buildCache();
  t.not(full!.id, short!.id, 'a build after --help wrote the cache again');
  t.true(full!.size > short!.size * 1.5, `${full!.size} bytes against ${short!.size}`);

  run(['build', '--progress=plain', '-t', 'cache:v1', ctx]);
  t.is((await buildCache())!.id, full!.id, 'a run that found what it needed left the cache alone');

  // A rebuild of that context after an edit runs from a cache of its own, and leaves the first build's alone.
  await writeFile(path.join(ctx, 'a.txt'), 'a, edited\n');
  run(['build', '--progress=plain', '-t', 'cache:v1', ctx]);
  t.truthy(await cache('build.rebuild'), 'the rebuild wrote a cache of its own');
  t.is((await buildCache())!.id, full!.id);
});

// A rebuild whose edit changed no step's input (a file touched, saved
// unchanged) runs from the rebuild cache, but runs no step: when it is the
// first to write that cache, the cache lacks what running a step compiles
// (a quarter to a third of a one-file rebuild's bytecode), and every later
// rebuild compiled that again (~10 ms) if the next rebuild that ran a step
// did not write the cache again.
runIf(buildSkipReason())('a rebuild cache written by a rebuild that ran no step is written again by one that ran one', async (t) => {
  const { cache, run } = await launcherCopy(t);
  const rebuildCache = () => cache('build.rebuild');
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY a.txt /a.txt\nCOPY sub /sub\n', 'a.txt': 'a\n', 'sub/b.txt': 'b\n' });
  const build = () => run(['build', '--progress=plain', '-t', 'cache:v1', ctx]);
  build();
  // The same bytes again, a newer mtime: a rebuild (the memo cannot vouch for it) whose steps are all cached.
  await writeFile(path.join(ctx, 'a.txt'), 'a\n');
  t.regex(build(), /#\d+ \[1\/2\] COPY a\.txt \/a\.txt\n#\d+ CACHED/);
  const small = await rebuildCache();
  t.truthy(small, 'the rebuild wrote its cache');
  await writeFile(path.join(ctx, 'a.txt'), 'a, edited\n');
  t.notRegex(build(), /COPY a\.txt \/a\.txt\n#\d+ CACHED/);
  const grown = await rebuildCache();
  t.not(grown!.id, small!.id, 'the rebuild that ran a step wrote the cache again');
  t.true(grown!.size > small!.size, `${grown!.size} bytes against ${small!.size}`);
});

// V8 accepts a code cache only from a process with the flags it was
// written under: a run that changes none (a rebuild that records its
// answer; a big build sets heap flags for good, which the launcher sets
// back before it writes one) writes one the next run accepts, or every
// later run would reject it, compile everything again and write it anew.
runIf(buildSkipReason())('a cache written by a rebuild that recorded its answer is accepted by the next run', async (t) => {
  const { cache, run } = await launcherCopy(t);
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY a.txt /a.txt\n', 'a.txt': 'a\n' });
  const build = (env: NodeJS.ProcessEnv = {}) => run(['build', '--progress=plain', '-t', 'cache:v1', ctx], env);
  // Older than the context snapshot's racy margin once the build reads it: the rebuild records its next no-op's answer.
  const edit = async (text: string) => {
    await writeFile(path.join(ctx, 'a.txt'), text);
    await new Promise((r) => setTimeout(r, FINE_RACY_MARGIN_MS + 50));
  };
  build();
  await edit('a, edited\n');
  build();
  const written = await cache('build.rebuild');
  t.truthy(written, 'the first rebuild wrote its cache');
  t.regex(build({ TSBUILD_MEMO_DEBUG: '1' }), /answered from the local memo/, 'that rebuild recorded its answer');
  await edit('a, edited again\n');
  build();
  t.is((await cache('build.rebuild'))!.id, written!.id, 'the next rebuild accepted the cache (a rejected one is written again)');
});
