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
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const outfile = join(outdir, 'tsbuild.cjs');

// Also drops the code caches of the previous bundle (bin/tsbuild.js).
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'builder', 'cli', 'main.js')],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: true,
  // Paths found from the module's own location (runner-native/package-root.ts).
  define: { 'import.meta.url': '__tsbuildBundleUrl' },
  banner: { js: "var __tsbuildBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  // ssh2 loads optional native addons (.node files) that cannot be bundled:
  // it is required from node_modules when an ssh:// host is first dialled.
  external: ['ssh2'],
});

// The launcher compiles the bundle as a plain script: an import() left in it
// (of a Node built-in, say) would need the ESM loader. Use a static import.
const left = readFileSync(outfile, 'utf8').match(/\bimport\(["'][^"']+["']\)/g);
if (left) {
  console.error(`bundle-cli: dynamic import() of external modules left in ${outfile}: ${[...new Set(left)].join(', ')}`);
  process.exit(1);
}
