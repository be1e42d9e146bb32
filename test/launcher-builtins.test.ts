// Node built-ins as the bundles load them (scripts/bundle-cli.js).
// node:module (with the ES module loader it loads) is replaced in both
// bundles by a createRequire() that hands out the bundle's own require():
// a first build, a no-op answered from the memo and a rebuild after an
// edit all run without it, and the built-ins loaded through that require()
// on first use (node:crypto, node:child_process ...) still work. And a
// built-in's exports are copied once per bundle, not once per module that
// imports it whole.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { PROJECT_ROOT, storeSuite, tempDir, tsbuild } from './helpers/cli.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = storeSuite('built-ins the launcher loads', { serial: true });

// Notes, at exit, every built-in module this process loaded.
const NOTE_BUILTINS = `
process.on('exit', () => require('node:fs').writeFileSync(process.env.BUILTINS_LOG, process.moduleLoadList.join('\\n')));
`;

test('neither bundle requires node:module', (t) => {
  for (const name of ['tsbuild.cjs', 'tsbuild-remote.cjs']) {
    const text = readFileSync(path.join(PROJECT_ROOT, 'dist', 'bundle', name), 'utf8');
    t.false(/\brequire\(["'](node:)?module["']\)/.test(text), name);
    // The shim is there in its place (both bundles create a require() for a built-in).
    t.true(text.includes("createRequire() loads Node built-ins only"), name);
  }
});

test("each bundle's wrapped copy, which the launcher compiles, is that bundle in CommonJS's wrapper", (t) => {
  for (const name of ['tsbuild', 'tsbuild-remote']) {
    const text = readFileSync(path.join(PROJECT_ROOT, 'dist', 'bundle', `${name}.cjs`), 'latin1');
    const wrapped = readFileSync(path.join(PROJECT_ROOT, 'dist', 'bundle', `${name}.wrapped.js`), 'latin1');
    t.is(wrapped, `(function (exports, require, module, __filename, __dirname) { ${text}\n});`, name);
  }
});

test('node:fs/promises is required once per bundle, through its shared shim', (t) => {
  for (const name of ['tsbuild.cjs', 'tsbuild-remote.cjs']) {
    const text = readFileSync(path.join(PROJECT_ROOT, 'dist', 'bundle', name), 'utf8');
    t.is(text.split('require("node:fs/promises")').length - 1, 1, name);
  }
});

// `import * as fs from 'node:fs'` copies node:fs's ~100 exports for each
// module that does it, as it initialises: named imports need no copy.
// file-creator.ts keeps its namespace (its own close, open and write would
// shadow fs's); it is one copy.
test("node:fs is imported by name, not as a namespace or default", (t) => {
  const allowed = new Set(['cache/file-creator.ts']);
  const offenders: string[] = [];
  for (const dir of ['builder', 'cache', 'frontend', 'runner-native']) {
    for (const file of readdirSync(path.join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      const rel = `${dir}/${file}`;
      if (!rel.endsWith('.ts') || allowed.has(rel)) continue;
      const text = readFileSync(path.join(PROJECT_ROOT, rel), 'utf8');
      if (/^import (\* as )?[A-Za-z_$][\w$]*( ,|,| from) 'node:fs'/m.test(text)) offenders.push(rel);
    }
  }
  t.deepEqual(offenders, []);
});

suite.it('a build, a no-op answered from the memo and a rebuild run without node:module', async (t) => {
  const dir = await tempDir('tsbuild-builtins-');
  const preload = path.join(dir, 'note-builtins.cjs');
  writeFileSync(preload, NOTE_BUILTINS);
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY hello.txt /hello.txt\n', 'hello.txt': 'hello\n' });
  // Older than the snapshot's racy margin, so the no-op's stat check can confirm it.
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  let n = 0;
  const run = async (what: string) => {
    const log = path.join(dir, `builtins-${n++}.txt`);
    const r = await tsbuild(['build', '-q', ctx], {
      root: suite.store.root,
      env: { NODE_OPTIONS: `--require ${preload}`, BUILTINS_LOG: log, TSBUILD_MEMO_DEBUG: '1' },
    });
    t.is(r.code, 0, `${what}: ${r.stderr}`);
    t.true(existsSync(log), what);
    const loaded = readFileSync(log, 'utf8').split('\n');
    t.false(loaded.includes('NativeModule module'), `${what} loaded node:module`);
    return { memo: r.stderr.includes('answered from the local memo'), id: r.stdout.trim(), loaded };
  };
  const first = await run('first build');
  t.false(first.memo);
  t.regex(first.id, /^sha256:[0-9a-f]{64}$/);
  // The build hashed its files and named its temp files with the native addon (runner-native/native-crypto.ts), not node:crypto.
  t.false(first.loaded.includes('NativeModule crypto'), 'the build loaded node:crypto');
  const noop = await run('no-op');
  t.true(noop.memo, 'the no-op was answered from the memo');
  t.is(noop.id, first.id);
  // The answer reads and hashes nothing that needs them (the shims are free of side effects: an import left unused loads nothing).
  t.false(noop.loaded.includes('NativeModule fs/promises'), 'the no-op loaded node:fs/promises');
  t.false(noop.loaded.includes('NativeModule crypto'), 'the no-op loaded node:crypto');
  await appendFile(path.join(ctx, 'hello.txt'), 'again\n');
  const rebuild = await run('rebuild');
  t.false(rebuild.memo);
  t.regex(rebuild.id, /^sha256:[0-9a-f]{64}$/);
  t.not(rebuild.id, first.id);
  t.false(rebuild.loaded.includes('NativeModule crypto'), 'the rebuild loaded node:crypto');
  // Imported by modules a rebuild initialises, called by none of them: the bundle loads it on a first call (scripts/bundle-cli.js).
  t.false(rebuild.loaded.includes('NativeModule child_process'), 'the rebuild loaded node:child_process');
});
