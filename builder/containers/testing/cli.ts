// Test support: runs the `tsbuild` CLI in a child process against a given
// store root, and inspects what containers could leave on the host.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../runner-native/index.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BIN = join(packageRoot(), 'bin', 'tsbuild.js');

export function tsbuild(storeRoot: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...opts.env, TSBUILD_ROOT: storeRoot },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    opts.onSpawn?.(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** Mount points at or under `dir` in this (host) mount namespace. */
export function mountsUnder(dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    // A bare prefix test would also take /tmp/x-abc for /tmp/x-a.
    .filter((mountPoint) => mountPoint !== '' && (mountPoint === base || mountPoint.startsWith(`${base}/`)));
}

/** cgroup dirs of containers whose id starts with `idPrefix`, in any hierarchy. */
export function containerCgroups(idPrefix: string): string[] {
  const found: string[] = [];
  for (const h of ['', 'pids', 'memory', 'cpu']) {
    const parent = join('/sys/fs/cgroup', h, 'tsbuild');
    if (!existsSync(parent)) continue;
    for (const e of readdirSync(parent)) if (e.startsWith(`ctr-${idPrefix}`)) found.push(join(parent, e));
  }
  return found;
}

/** Processes whose command line mentions `text` (a store root: supervisors and forwarders carry it). */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text) && Number(pid) !== process.pid) found.push(`${pid} ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
