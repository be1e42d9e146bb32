// Unpack throughput: tsbuild's layer unpacker (the path a FROM image's
// layer takes into a snapshot) beside GNU `tar -x` of the same gzip layer
// on this machine, alternated run by run, medians printed.
//
//   node dist/bench/unpack.js [LAYER.tar[.gz]] [--runs N] [--dir DIR]
//
// Without a layer it uses the debian:bookworm minbase rootfs that
// bench/debian-rootfs.sh makes (once). Both sides read the same gzip file
// and write into a fresh directory on the same filesystem (DIR, default
// under /var/tmp); removing the tree between runs is not timed. Lines give
// wall time, files/s (tar entries / wall) and the process's CPU time for
// tsbuild (user + sys) or the tar child's (for tar). On an ext4 without a
// journal, every run after the first creates its files right after the
// previous run's tree was removed, which that file system makes slow for
// both sides (see bench/compare.sh); give --dir on a journaled one there.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyLayer } from '../cache/layer-unpack.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT_ROOT = path.resolve(HERE, '../..');

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const RUNS = Math.max(1, Number(option('--runs') ?? 5));
const BASE = option('--dir') ?? '/var/tmp';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function layerPath(work: string): string {
  let layer = args[0];
  if (!layer) {
    layer = execFileSync('bash', [path.join(PROJECT_ROOT, 'bench/debian-rootfs.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  }
  // Both sides get the same gzip input, as a registry serves it.
  if (!layer.endsWith('.gz')) {
    const gz = path.join(work, 'layer.tar.gz');
    execFileSync('bash', ['-c', `gzip -6n < "${layer}" > "${gz}"`]);
    return gz;
  }
  return layer;
}

interface Sample { wall: number; cpu: number }

async function runTsbuild(gz: string, dest: string): Promise<Sample> {
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  await applyLayer(createReadStream(gz, { highWaterMark: 1 << 20 }), dest, { overlayWhiteouts: true });
  const wall = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0);
  return { wall, cpu: (u.user + u.system) / 1e6 };
}

function runTar(gz: string, dest: string): Sample {
  mkdirSync(dest, { recursive: true });
  const t0 = performance.now();
  // /usr/bin/time reports the child's CPU time; -p keeps its format fixed.
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', 'tar', '-xzf', gz, '-C', dest, '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs'], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wall, cpu: user! + sys! };
}

async function main(): Promise<void> {
  mkdirSync(BASE, { recursive: true });
  const work = mkdtempSync(path.join(BASE, 'tsbuild-bench-unpack.'));
  try {
    const gz = layerPath(work);
    const entries = Number(execFileSync('bash', ['-c', `tar -tzf "${gz}" | wc -l`], { encoding: 'utf8' }).trim());
    const mb = statSync(gz).size / 1e6;
    console.log(`layer: ${gz} (${mb.toFixed(1)} MB gzip, ${entries} entries); ${RUNS} runs each, alternated`);
    const samples: Record<'tsbuild' | 'tar', Sample[]> = { tsbuild: [], tar: [] };
    for (let i = 0; i < RUNS; i++) {
      // Alternate which goes first, so neither always meets a warmer cache.
      const order: ('tsbuild' | 'tar')[] = i % 2 === 0 ? ['tsbuild', 'tar'] : ['tar', 'tsbuild'];
      for (const tool of order) {
        const dest = path.join(work, `out-${tool}-${i}`);
        execFileSync('sync');
        const s = tool === 'tsbuild' ? await runTsbuild(gz, dest) : runTar(gz, dest);
        samples[tool].push(s);
        rmSync(dest, { recursive: true, force: true });
      }
    }
    for (const tool of ['tsbuild', 'tar'] as const) {
      const wall = median(samples[tool].map((s) => s.wall));
      const cpu = median(samples[tool].map((s) => s.cpu));
      console.log(`${tool.padEnd(8)} ${wall.toFixed(2)} s  ${Math.round(entries / wall)} files/s  cpu ${cpu.toFixed(2)} s  (runs: ${samples[tool].map((s) => s.wall.toFixed(2)).join(' ')})`);
    }
    const ratio = median(samples.tsbuild.map((s) => s.wall)) / median(samples.tar.map((s) => s.wall));
    console.log(`ratio tsbuild/tar: ${ratio.toFixed(2)}`);
  } finally {
    if (existsSync(work)) rmSync(work, { recursive: true, force: true });
  }
}

await main();
