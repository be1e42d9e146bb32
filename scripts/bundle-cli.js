#!/usr/bin/env node
// Bundles the compiled CLI (dist/builder/cli/main.js) into a few files in
// dist/bundle/, which bin/tsbuild.js runs. A no-op rebuild spends most of
// its time starting up: a few minified chunks instead of ~170 modules save
// the resolution, reading and compiling of each (about 200 ms here; see
// bench/cache-rebuild.ts). Source maps sit beside the chunks: run with
// NODE_OPTIONS=--enable-source-maps for readable stack traces. Every dynamic import() stays a split point, so
// `--version` loads only the entry chunk and a cached build never loads
// the registry client or the sandbox.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { tsbuild: join(root, 'dist', 'builder', 'cli', 'main.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: true,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  // CommonJS dependencies (tar-stream and its helpers) call require().
  banner: { js: "import { createRequire as __tsbuildRequire } from 'node:module'; const require = __tsbuildRequire(import.meta.url);" },
  logLevel: 'warning',
});
