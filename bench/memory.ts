// Peak memory and scaling of a big-context build: generates a context of
// N files totalling S bytes, builds `FROM busybox / COPY . /app / RUN`
// with the CLI into an empty store, and prints the tsbuild process's peak
// RSS (VmHWM from /proc, sampled while it runs) and the time of each step,
// at two sizes, so a step slower than linear in the context shows up as a
// per-MB time that grows with the size.
//
//   node dist/bench/memory.js [--mb 1024] [--files 50000] [--runs 3] [--dir DIR] [--keep]
//   node dist/bench/memory.js --generate DIR [--mb M] [--files N]   # only the context, to profile a build of it
//
// The second size is half the first (files and bytes). Most files are
// small (a few KB to 40 KB, as in a source tree); 1% carry half the bytes
// (a few MB each), so both per-file costs and big bodies are exercised.
// Contents are pseudo-random (gzip cannot shrink them) and differ per file.
// The sizes alternate run by run, each build starts after a `sync` (so one
// build does not pay for the previous one's write-back) and the table shows
// medians; besides wall time it shows the process's CPU time (user + system,
// its children included), which a loaded machine disturbs far less: that is
// the number that says whether our work grows linearly.
// As root, after `npm run build`; needs about 4x the context on DIR's disk.
import { spawn, spawnSync } from 'node:child_process';
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
const RUNS = Number(option('--runs') ?? 3);
const TICK_S = 0.01; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s
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

interface BuildResult { wallS: number; cpuS: number; peakRssMb: number; steps: Map<string, number> }

/** Runs the CLI, sampling its VmHWM (the kernel's own high-water mark) until it exits. */
function build(ctx: string, store: string): Promise<BuildResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(CLI, ['build', '--progress=plain', '-t', 'bench-memory', ctx], {
      env: { ...process.env, TSBUILD_ROOT: store }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let peakKb = 0;
    let cpuTicks = 0;
    const sample = (): void => {
      try {
        const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
        // After the command name: state is field 3, utime..cstime are fields 14-17.
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuTicks = Math.max(cpuTicks, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
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
      resolve({ wallS, cpuS: cpuTicks * TICK_S, peakRssMb: peakKb / 1024, steps: stepTimes(out) });
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
    for (const sz of sizes) {
      const g0 = performance.now();
      generateContext(path.join(work, `ctx-${sz.files}`), sz.files, sz.mb * (1 << 20));
      console.error(`# generated ${sz.files} files / ${sz.mb} MB in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
    }
    const results = sizes.map((sz) => ({ ...sz, runs: [] as BuildResult[] }));
    for (let run = 0; run < RUNS; run++) {
      // Alternate which size goes first.
      for (const sz of run % 2 === 0 ? results : [...results].reverse()) {
        const store = path.join(work, `store-${sz.files}`);
        await new Promise<void>((resolve, reject) => {
          const p = spawn(process.execPath, [LOAD_BUSYBOX, 'busybox:latest'], { env: { ...process.env, TSBUILD_ROOT: store }, stdio: 'ignore' });
          p.on('close', (c) => (c === 0 ? resolve() : reject(new Error('loading busybox failed'))));
        });
        spawnSync('sync');
        const r = await build(path.join(work, `ctx-${sz.files}`), store);
        console.error(`# run ${run + 1}: ${sz.files} files: ${r.wallS.toFixed(1)} s wall, ${r.cpuS.toFixed(1)} s CPU, ${r.peakRssMb.toFixed(0)} MB`);
        sz.runs.push(r);
        rmSync(store, { recursive: true, force: true });
      }
    }
    const med = (xs: number[]): number => {
      const a = [...xs].sort((x, y) => x - y);
      return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
    };
    const summary = results.map(({ files, mb, runs }) => ({
      files, mb,
      wallS: med(runs.map((r) => r.wallS)), cpuS: med(runs.map((r) => r.cpuS)),
      peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
      steps: new Map([...new Set(runs.flatMap((r) => [...r.steps.keys()]))].map((k) => [k, med(runs.map((r) => r.steps.get(k) ?? 0))])),
    }));
    const steps = [...new Set(summary.flatMap((x) => [...x.steps.keys()]))];
    console.log(`${RUNS} runs per size, medians; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    console.log(`| context | peak RSS (max) | wall | CPU | ${steps.join(' | ')} |`);
    console.log(`| --- | --- | --- | --- |${steps.map(() => ' --- |').join('')}`);
    for (const r of summary) {
      const cells = steps.map((st) => (r.steps.has(st) ? `${r.steps.get(st)!.toFixed(1)} s` : '-'));
      console.log(`| ${r.files} files / ${r.mb} MB | ${r.peakRssMb.toFixed(0)} MB | ${r.wallS.toFixed(1)} s | ${r.cpuS.toFixed(1)} s | ${cells.join(' | ')} |`);
    }
    const [small, large] = summary;
    console.log(`ratios for 2x the context (linear: 2.00): CPU ${(large!.cpuS / small!.cpuS).toFixed(2)}, wall ${(large!.wallS / small!.wallS).toFixed(2)}; per step (wall): ${steps
      .filter((st) => (small!.steps.get(st) ?? 0) >= 0.5)
      .map((st) => `${st} ${(large!.steps.get(st)! / small!.steps.get(st)!).toFixed(2)}`).join(', ')}`);
    const peak = Math.max(...summary.map((x) => x.peakRssMb));
    console.log(`peak RSS ${peak.toFixed(0)} MB: ${peak < LIMIT_MB ? 'under' : 'OVER'} the ${LIMIT_MB} MB goal`);
  } finally {
    if (KEEP) console.error(`# kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

await main();
