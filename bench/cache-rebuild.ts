// Rebuild performance: a generated project of 5,000 files (~40 MB) with a
// three-stage Dockerfile, built through the real CLI (process start
// included). Prints medians of RUNS runs of:
//   - a cold build (fresh store, no build cache, no checksum cache)
//   - a no-op rebuild (everything cached)
//   - a one-file incremental rebuild (one file edited before each run)
//   - context hashing rate (files/s, MB/s) with a cold and a warm checksum cache
//   - `tsbuild --version`, and `node -e 0` as the machine's floor
// Each line gives the wall time and the CPU time (user + sys, from
// /usr/bin/time) of the whole process: on a loaded machine wall times
// grow, CPU times much less.
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
// The `tsbuild` command as users run it (bin/tsbuild, which starts Node without parsing NODE_EXTRA_CA_CERTS).
const BIN = path.join(PROJECT_ROOT, 'bin/tsbuild');

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

interface Timing {
  wallMs: number;
  cpuMs: number;
}

// /usr/bin/time appends `<user> <sys>` (seconds) as the last line of stderr.
function timed(argv: string[], env: NodeJS.ProcessEnv): Timing {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', ...argv], { env, encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs, cpuMs: (user! + sys!) * 1000 };
}

function tsbuild(root: string, argv: string[]): Timing {
  return timed([BIN, ...argv], { ...process.env, TSBUILD_ROOT: root, CI: 'true' });
}

function buildArgs(ctx: string): string[] {
  return ['build', '--progress=plain', '-t', 'bench:latest', ctx];
}

async function hashRate(ctx: string, root: string, warm: boolean): Promise<Timing> {
  const context = await BuildContext.open(ctx);
  const cache = warm ? await PersistentChecksumCache.open(path.join(root, 'checksums'), ctx) : new MemoryContentHashCache();
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await checksumSelection(context, ['.'], { cache });
  const used = process.cpuUsage(cpu);
  return { wallMs: Number(process.hrtime.bigint() - started) / 1e6, cpuMs: (used.user + used.system) / 1000 };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (builds mount overlays)');
  const work = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-bench-'));
  const ctx = path.join(work, 'project');
  const { files, bytes } = generateProject(ctx);
  const mb = bytes / 1024 / 1024;
  console.log(`project: ${files} files, ${mb.toFixed(1)} MB; ${RUNS} runs each; ${os.availableParallelism()} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);

  const cold: Timing[] = [];
  let root = '';
  for (let i = 0; i < RUNS; i++) {
    if (root) rmSync(root, { recursive: true, force: true });
    root = path.join(work, `store-${i}`);
    await loadBusyboxImage('busybox:latest', root);
    cold.push(tsbuild(root, buildArgs(ctx)));
  }
  // One more rebuild lets the checksum cache trust every file (see the racy rule).
  tsbuild(root, buildArgs(ctx));
  const noop: Timing[] = [];
  for (let i = 0; i < RUNS; i++) noop.push(tsbuild(root, buildArgs(ctx)));
  const incremental: Timing[] = [];
  for (let i = 0; i < RUNS; i++) {
    appendFileSync(path.join(ctx, 'src/d07/f7.txt'), `edit ${i}\n`);
    incremental.push(tsbuild(root, buildArgs(ctx)));
  }

  const coldHash: Timing[] = [];
  const warmHash: Timing[] = [];
  for (let i = 0; i < RUNS; i++) coldHash.push(await hashRate(ctx, root, false));
  for (let i = 0; i < RUNS; i++) warmHash.push(await hashRate(ctx, root, true));
  const version: Timing[] = [];
  const bare: Timing[] = [];
  for (let i = 0; i < Math.max(RUNS, 10); i++) {
    version.push(tsbuild(root, ['--version']));
    bare.push(timed([process.execPath, '-e', '0'], process.env));
  }

  const row = (name: string, t: Timing[], extra = '') => {
    const wall = median(t.map((x) => x.wallMs));
    const cpu = median(t.map((x) => x.cpuMs));
    console.log(`${name.padEnd(34)} ${wall.toFixed(0).padStart(7)} ms wall ${cpu.toFixed(0).padStart(7)} ms cpu${extra}`);
  };
  console.log('');
  row('cold build', cold);
  row('no-op rebuild', noop);
  row('one-file incremental rebuild', incremental);
  const rate = (t: Timing[]) => {
    const s = median(t.map((x) => x.wallMs)) / 1000;
    return `   ${(files / s).toFixed(0)} files/s, ${(mb / s).toFixed(0)} MB/s`;
  };
  // "cold" = no checksum cache; the files are in the OS page cache either way.
  row('context hashing, cold cache', coldHash, rate(coldHash));
  row('context hashing, warm stat cache', warmHash, rate(warmHash));
  row('tsbuild --version', version);
  row('node -e 0 (floor)', bare);
  console.log(`load average now ${os.loadavg()[0]!.toFixed(1)}`);
  if (!args.includes('--keep')) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
