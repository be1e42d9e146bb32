// execInContainer: one more process in a running sandbox (`tsbuild exec`).
// The helper joins the namespaces of the sandbox's init and its cgroup
// (so limits, `stop` and the end of the container cover this process
// too), then switches user and execs exactly as it does for an init.
// Nothing is created here that would need cleaning up: no cgroup, no
// mount; the config file lives only while the helper reads it.
import { spawn } from 'node:child_process';
import { randomBytes } from './native-crypto.js';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultHelperPath } from './availability.js';
import { assertCapabilitiesGrantable } from './capabilities.js';
import { cgroupHandleFor, CGROUP_ROOT } from './cgroup.js';
import { SandboxAbortedError, SandboxSetupError, SandboxUnavailableError } from './errors.js';
import { processRecords, record } from './helper-config.js';
import { parseHelperStatus } from './helper-status.js';
import { DEFAULT_STATE_DIR, type RunOptions, type SandboxResult } from './sandbox.js';
import { seccompRecords, type OciSeccomp } from './seccomp.js';
import { isRootless } from './user-namespace.js';
import { cgroupDelegation } from './cgroup-delegation.js';
import type { SandboxProcess } from './spec.js';
import { connectResize, connectStdio, stdioFor } from './stdio.js';

export interface ExecTarget {
  /** host pid of the container's init */
  initPid: number;
  /** the container's cgroup, relative to each hierarchy's root */
  cgroupsPath: string;
  /** the container's seccomp filter: an exec'd process is held to it too, as in docker */
  seccomp?: OciSeccomp;
}

export type ExecOptions = Pick<RunOptions, 'stdin' | 'stdout' | 'stderr' | 'signal' | 'resize'> & {
  helperPath?: string;
  stateDir?: string;
  /** where the container's cgroup hierarchy is mounted (the Sandbox's cgroupRoot); default /sys/fs/cgroup */
  cgroupRoot?: string;
};

export function compileExecConfig(target: ExecTarget, proc: SandboxProcess, ownerPid: number, cgroupRoot = CGROUP_ROOT): string {
  if (proc.args.length === 0) throw new SandboxSetupError('exec: no command given');
  const lines = [record('version', 1), record('owner_pid', ownerPid), record('join_pid', target.initPid)];
  // Rootless containers have a cgroup only below a delegated subtree (sandbox.ts).
  const delegation = isRootless() ? cgroupDelegation() : undefined;
  if (!delegation || delegation.ok) {
    for (const file of cgroupHandleFor(target.cgroupsPath, delegation?.ok ? delegation.dir : cgroupRoot).procsFiles) lines.push(record('cgroup_procs', file));
  }
  lines.push(...processRecords(proc));
  if (target.seccomp) for (const fields of seccompRecords(target.seccomp)) lines.push(record(...fields));
  return lines.join('\n') + '\n';
}

export async function execInContainer(target: ExecTarget, proc: SandboxProcess, opts: ExecOptions = {}): Promise<SandboxResult> {
  assertCapabilitiesGrantable(proc.capabilities);
  const dir = join(opts.stateDir ?? DEFAULT_STATE_DIR, 'exec');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const configPath = join(dir, `${randomBytes(8).toString('hex')}.conf`);
  await writeFile(configPath, compileExecConfig(target, proc, process.pid, opts.cgroupRoot), { mode: 0o600 });
  const helperPath = opts.helperPath ?? defaultHelperPath();
  const stdin = opts.stdin ?? 'ignore';
  const stdout = opts.stdout ?? 'ignore';
  const stderr = opts.stderr ?? 'ignore';
  try {
    const { statusText, aborted } = await new Promise<{ statusText: string; aborted: boolean }>((resolve, reject) => {
      const child = spawn(helperPath, [configPath], { stdio: stdioFor(stdin, stdout, stderr, opts.resize !== undefined) });
      connectResize(child, opts.resize);
      let text = '';
      let aborted = false;
      const onAbort = () => { aborted = true; child.kill('SIGKILL'); };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const status = child.stdio[3] as NodeJS.ReadableStream | null;
      status?.setEncoding('utf8');
      status?.on('data', (chunk: string) => { text += chunk; });
      connectStdio(child, stdin, stdout, stderr);
      if (opts.signal?.aborted) onAbort();
      child.on('error', (err) => reject(new SandboxUnavailableError(`cannot start ${helperPath}: ${err.message}`)));
      child.on('close', () => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve({ statusText: text, aborted });
      });
    });
    if (aborted) throw new SandboxAbortedError(opts.signal?.reason);
    const status = parseHelperStatus(statusText);
    if (status.error) throw status.error;
    if (status.exitCode === null && status.signal === null) throw new SandboxSetupError('the sandbox helper ended without a result');
    return { exitCode: status.exitCode, signal: status.signal, oomKilled: false, createdPaths: [] };
  } finally {
    await rm(configPath, { force: true });
  }
}
