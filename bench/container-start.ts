// Container start latency through the real CLI (process start included):
// medians of RUNS runs of
//   - `tsbuild run --rm busybox true`   (create, sandbox, exit, remove; default network and --network none)
//   - `tsbuild exec CONTAINER true`     (join a running container)
//   - `node -e 0`                        (this machine's floor for any CLI)
// against a throwaway store with the busybox fixture.
// Usage (as root): node dist/bench/container-start.js [--runs N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The `tsbuild` command as users run it (bin/tsbuild, which starts Node without parsing NODE_EXTRA_CA_CERTS).
const BIN = path.join(PROJECT_ROOT, 'bin/tsbuild');
const i = process.argv.indexOf('--runs');
const RUNS = Math.max(3, i >= 0 ? Number(process.argv[i + 1]) : 15);

const root = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-bench-ctr-'));
const env = { ...process.env, TSBUILD_ROOT: root };

function cli(args: string[]): { ms: number; stdout: string; status: number | null } {
  const start = process.hrtime.bigint();
  const r = spawnSync(BIN, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`tsbuild ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: r.stdout, status: r.status };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function measure(label: string, fn: () => number): void {
  fn(); // warm-up: code cache, page cache
  const times = Array.from({ length: RUNS }, fn);
  console.log(`${label.padEnd(34)} median ${median(times).toFixed(0)} ms  (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}, ${RUNS} runs)`);
}

try {
  await loadBusyboxImage('busybox:latest', root);
  measure('node -e 0', () => {
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
  measure('tsbuild run --rm busybox true', () => cli(['run', '--rm', 'busybox', 'true']).ms);
  measure('  same with --network none', () => cli(['run', '--rm', '--network', 'none', 'busybox', 'true']).ms);
  const id = cli(['run', '-d', '--network', 'none', 'busybox', 'sleep', '3600']).stdout.trim();
  measure('tsbuild exec CONTAINER true', () => cli(['exec', id, 'true']).ms);
  cli(['rm', '-f', id]);
} finally {
  rmSync(root, { recursive: true, force: true });
}
