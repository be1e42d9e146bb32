// Rebuild performance: a generated project of 5,000 files (~40 MB) with a
// three-stage Dockerfile, built through the real CLI (process start
// included). Prints medians of RUNS runs of:
//   - a cold build (fresh store, no build cache, no checksum cache)
//   - a no-op rebuild (everything cached)
//   - a one-file incremental rebuild (one file edited before each run)
//   - context hashing rate (files/s, MB/s) with a cold and a warm checksum cache
//   - `tsbuild --version`
// Usage (as root): node dist/bench/cache-rebuild.js [--runs N] [--files N] [--keep]
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildContext } from '../builder/context/context.js';
import { checksumSelection, MemoryContentHashCache } from '../builder/context/checksum.js';
import { PersistentChecksumCache } from '../cache/checksum-cache.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(PROJECT_ROOT, 'bin/tsbuild.js');

const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RUNS = Math.max(5, flag('--runs', 5));
const FILES = flag('--files', 5000);
const FILE_BYTES = 8 * 1024;

const DOCKERFILE = `FROM busybox:latest AS deps
RUN echo deps > /deps.txt
FROM busybox:latest AS build
COPY . /app
RUN find /app | wc -l > /count
FROM busybox:latest
COPY --from=deps /deps.txt /
COPY --from=build /count /
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function generateProject(dir: string): { files: number; bytes: number } {
  let bytes = 0;
  // Pseudo-random bytes: layers of real projects do not compress to nothing.
  let seed = 42;
  const chunk = Buffer.alloc(FILE_BYTES);
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, 'src', `d${String(i % 50).padStart(2, '0')}`);
    mkdirSync(sub, { recursive: true });
    for (let j = 0; j < FILE_BYTES; j += 4) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      chunk.writeUInt32LE(seed, j);
    }
    writeFileSync(path.join(sub, `f${i}.txt`), chunk);
    bytes += FILE_BYTES;
  }
  writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
  return { files: FILES, bytes };
}

function tsbuild(root: string, argv: string[]): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...argv], { env: { ...process.env, TSBUILD_ROOT: root, CI: 'true' }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`tsbuild ${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return ms;
}

function buildArgs(ctx: string): string[] {
  return ['build', '--progress=plain', '-t', 'bench:latest', ctx];
}

async function hashRate(ctx: string, root: string, warm: boolean): Promise<{ ms: number }> {
  const context = await BuildContext.open(ctx);
  const cache = warm ? await PersistentChecksumCache.open(path.join(root, 'checksums'), ctx) : new MemoryContentHashCache();
  const started = process.hrtime.bigint();
  await checksumSelection(context, ['.'], { cache });
  return { ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (builds mount overlays)');
  const work = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-bench-'));
  const ctx = path.join(work, 'project');
  const { files, bytes } = generateProject(ctx);
  const mb = bytes / 1024 / 1024;
  console.log(`project: ${files} files, ${mb.toFixed(1)} MB; ${RUNS} runs each; ${os.availableParallelism()} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);

  const cold: number[] = [];
  let root = '';
  for (let i = 0; i < RUNS; i++) {
    if (root) rmSync(root, { recursive: true, force: true });
    root = path.join(work, `store-${i}`);
    await loadBusyboxImage('busybox:latest', root);
    cold.push(tsbuild(root, buildArgs(ctx)));
  }
  // One more rebuild lets the checksum cache trust every file (see the racy rule).
  tsbuild(root, buildArgs(ctx));
  const noop: number[] = [];
  for (let i = 0; i < RUNS; i++) noop.push(tsbuild(root, buildArgs(ctx)));
  const incremental: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    appendFileSync(path.join(ctx, 'src/d07/f7.txt'), `edit ${i}\n`);
    incremental.push(tsbuild(root, buildArgs(ctx)));
  }

  const coldHash: number[] = [];
  const warmHash: number[] = [];
  for (let i = 0; i < RUNS; i++) coldHash.push((await hashRate(ctx, root, false)).ms);
  for (let i = 0; i < RUNS; i++) warmHash.push((await hashRate(ctx, root, true)).ms);
  const version: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 10); i++) version.push(tsbuild(root, ['--version']));

  const row = (name: string, ms: number[], extra = '') => console.log(`${name.padEnd(34)} ${median(ms).toFixed(0).padStart(7)} ms${extra}`);
  console.log('');
  row('cold build', cold);
  row('no-op rebuild', noop);
  row('one-file incremental rebuild', incremental);
  const rate = (ms: number[]) => `   ${(files / (median(ms) / 1000)).toFixed(0)} files/s, ${(mb / (median(ms) / 1000)).toFixed(0)} MB/s`;
  // "cold" = no checksum cache; the files are in the OS page cache either way.
  row('context hashing, cold cache', coldHash, rate(coldHash));
  row('context hashing, warm stat cache', warmHash, rate(warmHash));
  row('tsbuild --version', version);
  if (!args.includes('--keep')) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
