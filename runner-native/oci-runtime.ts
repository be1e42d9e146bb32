// Sandbox.run with an installed OCI runtime (runc or crun) instead of the
// native helper: the same SandboxSpec becomes a bundle's config.json, and
// `<runtime> run` runs it in the foreground with our stdio. Used to
// cross-check the native sandbox, and for hosts that prefer a vetted runtime.
import { spawn } from 'node:child_process';
import { randomBytes } from './native-crypto.js';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inUserNamespace } from './user-namespace.js';
import { assertCapabilitiesGrantable } from './capabilities.js';
import { cgroupHandleFor, cgroupVersion, killCgroup, removeCgroup } from './cgroup.js';
import { SandboxAbortedError, SandboxExecNotFoundError, SandboxSetupError, SandboxTimeoutError, SandboxUnavailableError } from './errors.js';
import { withEtcFiles } from './etc-files.js';
import { signalName } from './helper-status.js';
import { toOciConfig } from './oci-runtime-config.js';
import { withPrivateOverlay } from './oci-runtime-rootfs.js';
import type { OciRuntimeName, RunOptions, Runtime, SandboxResult } from './runtime.js';
import type { SandboxSpec } from './spec.js';
import { createRunDir, processStartTime, type RunRecord } from './state.js';
import { connectStdio, stdioFor } from './stdio.js';

export type { OciRuntimeName, SandboxRuntime } from './runtime.js';
export const OCI_RUNTIMES: readonly OciRuntimeName[] = ['runc', 'crun'];

export interface OciRunContext {
  stateDir: string;
  /** parent of the per-run cgroup when the spec names none */
  cgroupParent: string;
  cgroupRoot: string;
}

/** The runtime's binary from PATH (plus the sbin dirs, where Debian puts runc), or null. */
export function findOciRuntime(name: OciRuntimeName): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}

interface Outcome {
  code: number | null;
  setupError: string;
  cancelled: 'abort' | 'timeout' | null;
}

/** Error-level messages of the runtime's JSON log: what went wrong before (or instead of) the command. */
async function runtimeErrors(logPath: string): Promise<string[]> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) errors.push(entry.msg);
    } catch { /* not JSON: ignore */ }
  }
  return errors;
}

function runtimeFailure(message: string): Error {
  // runc: `exec: "foo": executable file not found in $PATH`; crun: `executable file `foo` not found in $PATH`
  if (/executable file .* not found|exec: .*no such file or directory/i.test(message)) return new SandboxExecNotFoundError(message);
  return new SandboxSetupError(message);
}

/**
 * Why `name` cannot run on this host's cgroups, or null. crun (1.8) refuses
 * cgroup v1 hosts whose unified hierarchy has controllers ("hybrid mode not
 * supported"), even with its cgroup manager disabled.
 */
export function ociRuntimeCgroupProblem(name: OciRuntimeName, cgroupRoot = '/sys/fs/cgroup'): string | null {
  if (name !== 'crun' || cgroupVersion(cgroupRoot) !== 1) return null;
  const unified = (() => { try { return readFileSync(join(cgroupRoot, 'unified', 'cgroup.controllers'), 'utf8').trim(); } catch { return ''; } })();
  return unified ? `crun does not support this hybrid cgroup host (controllers in the unified hierarchy: ${unified}); use runc` : null;
}

/** runc/crun exit with 128+N when the container's init was killed by signal N. */
export function exitStatus(code: number): Pick<SandboxResult, 'exitCode' | 'signal'> {
  if (code > 128 && code < 128 + 65) {
    const name = signalName(code - 128);
    if (name) return { exitCode: null, signal: name };
  }
  return { exitCode: code, signal: null };
}

export async function runWithOciRuntime(name: OciRuntimeName, spec: SandboxSpec, opts: RunOptions, ctx: OciRunContext): Promise<SandboxResult> {
  if (opts.signal?.aborted) throw new SandboxAbortedError(opts.signal.reason);
  assertCapabilitiesGrantable(spec.process.capabilities);
  const binary = findOciRuntime(name);
  if (!binary) throw new SandboxUnavailableError(`${name} is not installed (apt-get install ${name})`);
  if (process.getuid?.() !== 0 || inUserNamespace()) throw new SandboxUnavailableError(`--runtime ${name} needs root (rootless, use the native sandbox: no --runtime)`);
  const cgroupProblem = ociRuntimeCgroupProblem(name, ctx.cgroupRoot);
  if (cgroupProblem) throw new SandboxUnavailableError(cgroupProblem);

  const id = randomBytes(8).toString('hex');
  const containerId = `tsbuild-${id}`;
  const cgroupsPath = (spec.linux.cgroupsPath ?? `${ctx.cgroupParent}/${id}`).replace(/^\/+/, '');
  const record: RunRecord = { id, ownerPid: process.pid, ownerStartTime: processStartTime(process.pid) ?? '', cgroupsPath };
  const runDir = await createRunDir(ctx.stateDir, record);
  const runtimeRoot = join(runDir, name);
  const logPath = join(runDir, `${name}.log`);
  const global = [`--root=${runtimeRoot}`];
  const cgroup = cgroupHandleFor(cgroupsPath, ctx.cgroupRoot);
  try {
    const fullSpec = opts.etcFiles === false ? spec : withEtcFiles(spec, runDir, opts.etcFiles);
    const bundle = join(runDir, 'bundle');
    await mkdir(bundle);
    await writeFile(join(bundle, 'config.json'), JSON.stringify(toOciConfig(fullSpec, { cgroupsPath: `/${cgroupsPath}` }), null, 2));
    const run = [binary, ...global, `--log=${logPath}`, '--log-format=json', 'run', '--bundle', bundle, containerId];
    const argv = spec.rootLayers ? withPrivateOverlay(spec.rootLayers, spec.root.path, run) : run;
    const outcome = await spawnRuntime(argv, () => killContainer(binary, global, containerId), opts);
    if (outcome.cancelled === 'timeout') throw new SandboxTimeoutError(opts.timeoutMs!);
    if (outcome.cancelled === 'abort') throw new SandboxAbortedError(opts.signal!.reason);
    if (outcome.setupError) throw new SandboxSetupError(`cannot mount the overlay root: ${outcome.setupError.trim()}`);
    const errors = await runtimeErrors(logPath);
    if (errors.length > 0) throw runtimeFailure(`${name}: ${errors.join('; ')}`);
    if (outcome.code === null) throw new SandboxSetupError(`${name} was killed before the command ended`);
    // `<runtime> run` has removed the container's cgroup by now and the
    // OOM counter with it: OOM kills then show as SIGKILL with oomKilled false.
    const oomKilled = false;
    // createdPaths: the runtime creates missing mountpoints without telling us which.
    return { ...exitStatus(outcome.code), oomKilled, createdPaths: [] };
  } finally {
    await runQuiet(binary, [...global, 'delete', '--force', containerId]);
    // second line of defence, as on the native path (runc normally removed it)
    await killCgroup(cgroup);
    await removeCgroup(cgroup).catch(() => undefined);
    await rm(runDir, { recursive: true, force: true });
  }
}

/** Runs a runtime command, ignoring its output and failure (used for kill/delete, which fail when the container is already gone). */
function runQuiet(binary: string, args: string[]): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: 'ignore' });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}

function killContainer(binary: string, global: string[], containerId: string): Promise<void> {
  return runQuiet(binary, [...global, 'kill', containerId, 'KILL']);
}

function spawnRuntime(argv: string[], kill: () => Promise<void>, opts: RunOptions): Promise<Outcome> {
  const stdin = opts.stdin ?? 'ignore';
  const stdout = opts.stdout ?? 'ignore';
  const stderr = opts.stderr ?? 'ignore';
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: stdioFor(stdin, stdout, stderr) });
    let setupError = '';
    let cancelled: Outcome['cancelled'] = null;
    let closed = false;
    // Killing the runtime process would orphan the container (runc sets no
    // PDEATHSIG on its init), so we ask the runtime to kill the container,
    // again until `run` returns: the container may not exist yet at first.
    const cancel = async (why: 'abort' | 'timeout') => {
      if (cancelled) return;
      cancelled = why;
      while (!closed) {
        await kill();
        await sleep(100);
      }
    };
    const onAbort = () => void cancel('abort');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => void cancel('timeout'), opts.timeoutMs) : null;
    const setupPipe = child.stdio[3] as NodeJS.ReadableStream | null;
    setupPipe?.setEncoding('utf8');
    setupPipe?.on('data', (chunk: string) => { setupError += chunk; });
    connectStdio(child, stdin, stdout, stderr);
    if (opts.signal?.aborted) onAbort();
    const finish = () => {
      closed = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      finish();
      reject(new SandboxUnavailableError(`cannot start ${argv[0]}: ${err.message}`));
    });
    child.on('close', (code) => {
      finish();
      resolve({ code, setupError, cancelled });
    });
  });
}

/** runc or crun as a Runtime, the peer of the native Sandbox. */
export class OciRuntime implements Runtime {
  readonly reportsCreatedPaths = false;
  constructor(readonly name: OciRuntimeName, private readonly ctx: OciRunContext) {}

  run(spec: SandboxSpec, opts: RunOptions = {}): Promise<SandboxResult> {
    return runWithOciRuntime(this.name, spec, opts, this.ctx);
  }
}
