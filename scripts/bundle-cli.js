#!/usr/bin/env node
// Bundles the compiled CLI (dist/builder/cli/main.js) into one CommonJS
// file, dist/bundle/tsbuild.cjs, which bin/tsbuild.js runs through V8's code
// cache. A no-op rebuild spends most of its time starting up: one minified
// file instead of ~170 ES modules saves resolving, reading and linking each
// of them, and the code cache (which ES modules cannot use on Node 20)
// saves compiling the functions the command runs; about 250 ms together
// here (bench/cache-rebuild.ts). Modules behind a dynamic import() still
// run only when imported, so a cached build never initialises the
// registry client or the sandbox. Source maps sit beside the bundle: run
// with NODE_OPTIONS=--enable-source-maps for readable stack traces.
//
// A second, small bundle, dist/bundle/tsbuild-remote.cjs
// (builder/cli/remote-main.js), is what the launcher runs when a server may
// be named (--host, TSBUILD_HOST): the remote client without the local
// builder, whose start-up is most of a no-op rebuild through a server.
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const entries = { tsbuild: 'main.js', 'tsbuild-remote': 'remote-main.js' };
// What the remote bundle must not hold: the local builder, reached by one
// static import too many from the code the remote client shares with it.
const LOCAL_ONLY = /^dist\/builder\/(cli\/build-runner|api|solver\/|store\/|snapshots\/|containers\/)/;

// `import path from 'node:path'` (in ~100 modules) compiles to a wrapper
// per importing module: esbuild's interop helper copies every export of
// the built-in into a new object, once per module as it initialises (1-2 ms
// of a build); so does `import * as fsp from 'node:fs/promises'` (in the
// layer code a rebuild's COPY loads). These built-ins are given to the
// bundle as ES modules of their own instead (their exports are plain
// values, read once), so each import is a plain binding to one shared
// copy. Only plain values are copied: a lazy getter (node:fs's `promises`)
// would load what it guards with the first importer; node:fs itself is
// imported by name (named imports need no wrapper).
//
// node:path's shim also swaps in join(), resolve() and dirname() from
// cache/posix-path.ts: the same results without normalizing, one character
// at a time, the paths that need none (~3 ms of a one-file rebuild).
const SHIMMED = /^node:(path|os|fs\/promises)$/;
const POSIX_PATH = join(root, 'dist', 'cache', 'posix-path.js');
const OVERRIDES = { 'node:path': ['join', 'resolve', 'dirname'] };
const builtinShims = {
  name: 'builtin-shims',
  setup(b) {
    // Free of side effects, as the built-in is to esbuild: a module whose
    // imports of it are all left unused in a bundle (the lean bundle's
    // share of cache/checksum-cache.ts) does not load it. The module that
    // overrides some of its functions gets the built-in itself.
    b.onResolve({ filter: SHIMMED }, (args) => (args.namespace === 'builtin-shim' || args.importer === POSIX_PATH ? { path: args.path, external: true } : { path: args.path, namespace: 'builtin-shim', sideEffects: false }));
    b.onLoad({ filter: SHIMMED, namespace: 'builtin-shim' }, (args) => {
      const exported = Object.getOwnPropertyDescriptors(createRequire(import.meta.url)(args.path));
      const names = Object.keys(exported).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default' && 'value' in exported[k]);
      const own = OVERRIDES[args.path] ?? [];
      const lines = own.length === 0
        ? [`import m from ${JSON.stringify(args.path)};`, 'export default m;']
        : [`import b from ${JSON.stringify(args.path)};`, `import * as own from ${JSON.stringify(POSIX_PATH)};`, `const m = { ...b, ${own.map((k) => `${k}: own.${k}`).join(', ')} };`, 'export default m;'];
      lines.push(...names.map((k) => `export const ${k} = m.${k};`));
      return { contents: lines.join('\n'), loader: 'js', resolveDir: root };
    });
  },
};

// createRequire() (node:module) is how modules load a built-in on first
// use (cache/digest.ts's node:crypto, cache/lazy-zlib.ts ...). Loading
// node:module itself loads Node's ES module loader with it: ~0.4 ms of
// every start, a no-op answer's included, for one function. In the
// bundle, the require() its wrapper is given (the launcher's, or Node's
// own for a plain require of the bundle) loads built-ins the same way, so
// the bundle gets a createRequire() that returns it, for built-ins only:
// nothing in the bundle may resolve a file relative to its own module.
const moduleShim = {
  name: 'module-shim',
  setup(b) {
    b.onResolve({ filter: /^node:module$/ }, (args) => (args.namespace === 'module-shim' ? undefined : { path: args.path, namespace: 'module-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'module-shim' }, () => ({
      contents: [
        'export function createRequire() {',
        '  return (id) => {',
        "    if (!id.startsWith('node:')) throw new Error(`tsbuild bug: the bundle's createRequire() loads Node built-ins only, not ${id}`);",
        '    return require(id);',
        '  };',
        '}',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

// node:child_process, with the dgram and socket modules it loads (~0.5 ms),
// is imported at the top of a dozen modules that a one-file rebuild
// initialises and whose functions it never calls (the fsop helper starts
// through the native addon, the RUN's sandbox through that helper). In the
// bundle it is a module of forwarders that load it on their first call.
// execFile keeps what util.promisify() makes of it ({ stdout, stderr }),
// asked for when a module starts. A function the code imports that is not
// forwarded here fails the bundle (esbuild: no such export).
const LAZY_CHILD_PROCESS = [
  "let loaded;",
  "const real = () => (loaded ??= require('node:child_process'));",
  ...['spawn', 'spawnSync', 'execFile', 'execFileSync'].map((f) => `export function ${f}(...args) { return real().${f}(...args); }`),
  "const custom = Symbol.for('nodejs.util.promisify.custom');",
  "execFile[custom] = (...args) => real().execFile[custom](...args);",
].join('\n');
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) => (args.namespace === 'lazy-child-process' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy-child-process', sideEffects: false }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({ contents: LAZY_CHILD_PROCESS, loader: 'js' }));
  },
};

// Also drops the code caches of the previous bundle (bin/tsbuild.js).
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([name, file]) => [name, join(root, 'dist', 'builder', 'cli', file)])),
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  // ASCII only (non-ASCII characters as escapes): the launcher reads the
  // bundle as latin1, which skips UTF-8 decoding (checked below).
  charset: 'ascii',
  sourcemap: true,
  // Paths found from the module's own location (runner-native/package-root.ts).
  define: { 'import.meta.url': '__tsbuildBundleUrl' },
  banner: { js: "var __tsbuildBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  // ssh2 loads optional native addons (.node files) that cannot be bundled:
  // it is required from node_modules when an ssh:// host is first dialled.
  external: ['ssh2'],
  metafile: true,
  plugins: [builtinShims, moduleShim, lazyChildProcess],
  absWorkingDir: root,
});

const remoteInputs = Object.values(result.metafile.outputs).find((o) => o.entryPoint?.endsWith('remote-main.js'))?.inputs ?? {};
const local = Object.keys(remoteInputs).filter((p) => LOCAL_ONLY.test(p));
if (local.length > 0) {
  console.error(`bundle-cli: the remote client's bundle holds the local builder (a static import from remote code?): ${local.slice(0, 5).join(', ')}`);
  process.exit(1);
}

// The launcher compiles the bundle as a plain script: an import() left in it
// (of a Node built-in, say) would need the ESM loader. Use a static import.
for (const name of Object.keys(entries)) {
  const outfile = join(outdir, `${name}.cjs`);
  const text = readFileSync(outfile, 'utf8');
  const nonAscii = text.search(/[^\x00-\x7f]/);
  if (nonAscii >= 0) {
    console.error(`bundle-cli: ${outfile} holds a non-ASCII character at offset ${nonAscii}; bin/tsbuild.js reads it as latin1`);
    process.exit(1);
  }
  // node:module would load the ES module loader at start (moduleShim above).
  if (/\brequire\(["'](node:)?module["']\)/.test(text)) {
    console.error(`bundle-cli: ${outfile} requires node:module; import createRequire from 'node:module' (the bundle's shim)`);
    process.exit(1);
  }
  const left = text.match(/\bimport\(["'][^"']+["']\)/g);
  if (left) {
    console.error(`bundle-cli: dynamic import() of external modules left in ${outfile}: ${[...new Set(left)].join(', ')}`);
    process.exit(1);
  }
  // What the launcher compiles: the bundle inside CommonJS's wrapper, as one
  // string read from one file. Wrapped at each start, the ~700 KB string was
  // a concatenation V8 copied into one piece before compiling it (~1 ms).
  // The plain file stays what `require` (with --enable-source-maps) loads.
  writeFileSync(join(outdir, `${name}.wrapped.js`), wrapModule(text));
}

// CommonJS's own wrapper (Module.wrap()'s). bin/tsbuild.js reads the result
// as it is and compiles it with the bundle's name.
function wrapModule(source) {
  return `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
}
