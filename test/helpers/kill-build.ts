// Builds killed with SIGKILL mid-way, and what such a kill may leave behind
// (mounts under the store, fsop helpers): for the crash-consistency tests.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { PROJECT_ROOT, TSBUILD_BIN } from './cli.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mount points under root (this process's mount namespace). */
export async function mountsUnder(root: string): Promise<string[]> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.map((l) => l.split(' ')[4] ?? '').filter((mp) => mp.startsWith(root + '/'));
}

/** Live fsop helpers that served the tsbuild process `owner`. */
export async function helpersOf(owner: number): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const zombie = / Z /.test(stat.slice(stat.lastIndexOf(')')));
    if (!zombie && cmd[1] === 'fsop' && cmd.includes('--owner') && cmd[cmd.indexOf('--owner') + 1] === String(owner)) pids.push(Number(pid));
  }
  return pids;
}

/** Starts `tsbuild build [args] ctx` and kills it with SIGKILL after `delayMs` (or lets it finish first). */
export async function buildKilledAfter(root: string, ctx: string, delayMs: number, args: string[] = []): Promise<{ pid: number; finished: boolean }> {
  const child = spawn(process.execPath, [TSBUILD_BIN, 'build', '--progress=plain', ...args, ctx], {
    cwd: PROJECT_ROOT, env: { ...process.env, CI: 'true', NO_COLOR: '1', TSBUILD_ROOT: root }, stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const finished = await Promise.race([sleep(delayMs).then(() => false), exited.then(() => true)]);
  if (!finished) child.kill('SIGKILL');
  await exited;
  return { pid: child.pid!, finished };
}
