// Peak memory and scaling of a big-context build: generates a context of
// N files totalling S bytes, builds `FROM busybox / COPY . /app / RUN`
// with the CLI into an empty store, and prints the tsbuild process's peak
// RSS (VmHWM from /proc, sampled while it runs) and the time of each step,
// at two sizes, so a step slower than linear in the context shows up as a
// per-MB time that grows with the size.
//
//   node dist/bench/memory.js [--mb 1024] [--files 50000] [--dir DIR] [--keep]
//   node dist/bench/memory.js --generate DIR [--mb M] [--files N]   # only the context, to profile a build of it
//
// The second size is half the first (files and bytes). Most files are
// small (a few KB to 40 KB, as in a source tree); 1% carry half the bytes
// (a few MB each), so both per-file costs and big bodies are exercised.
// Contents are pseudo-random (gzip cannot shrink them) and differ per file.
// As root, after `npm run build`; needs about 4x the context on DIR's disk.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT_ROOT = path.resolve(HERE, '../..');
// The `tsbuild` command as users run it (bin/tsbuild, which starts Node without parsing NODE_EXTRA_CA_CERTS).
const CLI = path.join(PROJECT_ROOT, 'bin/tsbuild');
const LOAD_BUSYBOX = path.join(PROJECT_ROOT, 'dist/fixtures/base-images/load-busybox.js');

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const MB = Number(option('--mb') ?? 1024);
const FILES = Number(option('--files') ?? 50_000);
const BASE = option('--dir') ?? '/var/tmp';
const KEEP = args.includes('--keep');
const LIMIT_MB = 300;

// One random pool; each file is a slice of it behind a header naming the
// file, so no two files are equal and nothing compresses.
const POOL = randomBytes(8 << 20);

function generateContext(dir: string, files: number, bytes: number): void {
  const big = Math.max(1, Math.floor(files / 100));
  const small = files - big;
  const bigSize = Math.floor(bytes / 2 / big);
  const smallMean = Math.floor(bytes / 2 / small);
  const perDir = 1000;
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, 'src', `d${Math.floor(i / perDir)}`);
    if (i % perDir === 0) mkdirSync(d, { recursive: true });
    // Small sizes spread over [mean/2, 3*mean/2]: the total stays near bytes/2.
    const size = i < big ? bigSize : Math.floor(smallMean / 2 + ((i * 7919) % smallMean));
    const header = Buffer.from(`file ${i}\n`);
    const off = (i * 104_729) % (POOL.length - Math.min(size, POOL.length));
    const parts = [header];
    for (let left = size; left > 0; ) {
      const n = Math.min(left, POOL.length - off);
      parts.push(POOL.subarray(off, off + n));
      left -= n;
    }
    writeFileSync(path.join(d, `f${i}.bin`), Buffer.concat(parts));
  }
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /app\nRUN du -sm /app > /du && find /app -type f > /list\n');
}

interface BuildResult { wallS: number; peakRssMb: number; steps: Map<string, number> }

/** Runs the CLI, sampling its VmHWM (the kernel's own high-water mark) until it exits. */
function build(ctx: string, store: string): Promise<BuildResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(CLI, ['build', '--progress=plain', '-t', 'bench-memory', ctx], {
      env: { ...process.env, TSBUILD_ROOT: store }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let peakKb = 0;
    const sample = (): void => {
      try {
        const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch { /* exited */ }
    };
    const timer = setInterval(sample, 20);
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b; });
    child.stderr.on('data', (b: Buffer) => { sample(); out += b; });
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const wallS = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`build failed (exit ${code}):\n${out.slice(-3000)}`));
      resolve({ wallS, peakRssMb: peakKb / 1024, steps: stepTimes(out) });
    });
  });
}

/** `#N [i/n] NAME` ... `#N DONE 1.2s` from plain progress: seconds per step name. */
function stepTimes(log: string): Map<string, number> {
  const names = new Map<string, string>();
  const times = new Map<string, number>();
  for (const line of log.split('\n')) {
    const named = /^#(\d+) (\[[^\]]+\] .*|exporting to image)$/.exec(line);
    // `[2/3] COPY . /app` -> `COPY . /app`; a FROM without its digest; long RUNs cut.
    const short = (n: string) => n.replace(/^\[\d+\/\d+\] /, '').replace(/@sha256:\S+/, '').slice(0, 24);
    if (named && !names.has(named[1]!) && !named[2]!.startsWith('[internal]')) names.set(named[1]!, short(named[2]!));
    const done = /^#(\d+) DONE ([\d.]+)s$/.exec(line);
    if (done && names.has(done[1]!)) times.set(names.get(done[1]!)!, Number(done[2]));
  }
  return times;
}

async function main(): Promise<void> {
  const only = option('--generate');
  if (only) return generateContext(only, FILES, MB * (1 << 20));
  mkdirSync(BASE, { recursive: true });
  const work = mkdtempSync(path.join(BASE, 'tsbuild-bench-memory.'));
  try {
    const sizes = [{ files: Math.floor(FILES / 2), mb: MB / 2 }, { files: FILES, mb: MB }];
    const results: { files: number; mb: number; r: BuildResult }[] = [];
    for (const s of sizes) {
      const ctx = path.join(work, `ctx-${s.files}`);
      const store = path.join(work, `store-${s.files}`);
      const g0 = performance.now();
      generateContext(ctx, s.files, s.mb * (1 << 20));
      console.error(`# generated ${s.files} files / ${s.mb} MB in ${((performance.now() - g0) / 1000).toFixed(1)} s; building`);
      await new Promise<void>((resolve, reject) => {
        const p = spawn(process.execPath, [LOAD_BUSYBOX, 'busybox:latest'], { env: { ...process.env, TSBUILD_ROOT: store }, stdio: 'ignore' });
        p.on('close', (c) => (c === 0 ? resolve() : reject(new Error('loading busybox failed'))));
      });
      results.push({ ...s, r: await build(ctx, store) });
      rmSync(ctx, { recursive: true, force: true });
      rmSync(store, { recursive: true, force: true });
    }
    const steps = [...new Set(results.flatMap((x) => [...x.r.steps.keys()]))];
    console.log(`| context | peak RSS | wall | ${steps.join(' | ')} |`);
    console.log(`| --- | --- | --- |${steps.map(() => ' --- |').join('')}`);
    for (const { files, mb, r } of results) {
      const cells = steps.map((s) => (r.steps.has(s) ? `${r.steps.get(s)!.toFixed(1)} s` : '-'));
      console.log(`| ${files} files / ${mb} MB | ${r.peakRssMb.toFixed(0)} MB | ${r.wallS.toFixed(1)} s | ${cells.join(' | ')} |`);
    }
    const [small, large] = results;
    console.log(`wall time ratio (2x the context): ${(large!.r.wallS / small!.r.wallS).toFixed(2)}; per step: ${steps
      .filter((s) => (small!.r.steps.get(s) ?? 0) >= 0.5)
        .map((s) => `${s} ${(large!.r.steps.get(s)! / small!.r.steps.get(s)!).toFixed(2)}`).join(', ')}`);
    const peak = Math.max(...results.map((x) => x.r.peakRssMb));
    console.log(`peak RSS ${peak.toFixed(0)} MB: ${peak < LIMIT_MB ? 'under' : 'OVER'} the ${LIMIT_MB} MB goal`);
  } finally {
    if (KEEP) console.error(`# kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

await main();
