// Sandbox.run: one command in fresh namespaces, an overlay root, a cgroup.
// The namespaces are made by the C helper, never in this (multi-threaded)
// Node process; this side prepares the cgroup, the config and the /etc
// files, watches the helper, and cleans up after every run.
import { spawn } from 'node:child_process';
import { randomBytes } from './native-crypto.js';
import { rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultHelperPath, sandboxAvailability, type Availability } from './availability.js';
import { assertCapabilitiesGrantable } from './capabilities.js';
import { deviceRulesOf } from './device-rules.js';
import { inUserNamespace, isRootless } from './user-namespace.js';
import { cgroupDelegation } from './cgroup-delegation.js';
import { removeAbandonedCgroups } from './abandoned-cgroups.js';
import { CGROUP_ROOT, cgroupHandleFor, createCgroup, killCgroup, removeCgroup, wasOomKilled } from './cgroup.js';
import { SandboxAbortedError, SandboxSetupError, SandboxTimeoutError, SandboxUnavailableError } from './errors.js';
import { withEtcFiles } from './etc-files.js';
import { compileHelperConfig } from './helper-config.js';
import { runWithOciRuntime } from './oci-runtime.js';
import type { RunOptions, Runtime, SandboxResult } from './runtime.js';

export type { RunOptions, SandboxResult } from './runtime.js';
import { parseHelperStatus, type HelperStatus } from './helper-status.js';
import type { SandboxSpec } from './spec.js';
import { cleanupStale, createRunDir, processStartTime, updateRunRecord, type RunRecord } from './state.js';
import { connectResize, connectStdio, stdioFor } from './stdio.js';
import { startWaitingHelper, takeWaitingHelper, type WaitingHelper } from './waiting-helper.js';

// Rootless, /run is the host's: the user's runtime dir (or cache dir) instead.
export const DEFAULT_STATE_DIR = isRootless()
  ? join(process.env.XDG_RUNTIME_DIR || process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsbuild', 'sandbox')
  : '/run/tsbuild/sandbox';

export interface SandboxOptions {
  /** Per-run state (config, /etc files, records for cleanupStale). Default /run/tsbuild/sandbox. */
  stateDir?: string;
  helperPath?: string;
  cgroupRoot?: string;
  /** Parent of the per-run cgroups, relative to each hierarchy's root (like Docker's --cgroup-parent). Default `tsbuild`. */
  cgroupParent?: string;
}

interface HelperOutcome {
  status: HelperStatus;
  helperCode: number | null;
  cancelled: 'abort' | 'timeout' | null;
}

/** The native runtime: our C helper. `run` with `runtime: 'runc'|'crun'` hands the spec to that runtime instead. */
export class Sandbox implements Runtime {
  readonly name = 'native';
  readonly reportsCreatedPaths = true;
  readonly stateDir: string;
  readonly helperPath: string;
  readonly cgroupRoot: string;
  readonly cgroupParent: string;
  private staleCleanup: Promise<void> | null = null;

  constructor(opts: SandboxOptions = {}) {
    this.stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
    this.helperPath = opts.helperPath ?? defaultHelperPath();
    this.cgroupRoot = opts.cgroupRoot ?? CGROUP_ROOT;
    this.cgroupParent = opts.cgroupParent ?? 'tsbuild';
  }

  /** Whether run() can work here; `reason` says what is missing. */
  available(): Promise<Availability> {
    return sandboxAvailability(this.helperPath, this.cgroupRoot);
  }

  async run(spec: SandboxSpec, opts: RunOptions = {}): Promise<SandboxResult> {
    const runtime = opts.runtime ?? 'native';
    if (runtime !== 'native') {
      return runWithOciRuntime(runtime, spec, opts, { stateDir: this.stateDir, cgroupParent: this.cgroupParent, cgroupRoot: this.cgroupRoot });
    }
    if (opts.signal?.aborted) throw new SandboxAbortedError(opts.signal.reason);
    // Caught here, before anything is set up, rather than as the helper's bare "capset: EPERM".
    assertCapabilitiesGrantable(spec.process.capabilities);
    const availability = await this.available();
    if (!availability.ok) throw new SandboxUnavailableError(availability.reason);
    // once per instance: whatever a kill -9ed tsbuild left behind
    this.staleCleanup ??= cleanupStale(this.stateDir).then(() => undefined, () => undefined).then(() => {
      // a rootless run's cgroups live in its delegated subtree, not under cgroupRoot
      if (!inUserNamespace()) removeAbandonedCgroups(this.cgroupParent, this.cgroupRoot);
    });
    await this.staleCleanup;

    const id = randomBytes(8).toString('hex');
    const cgroupsPath = spec.linux.cgroupsPath ?? `${this.cgroupParent}/${id}`;
    // where the cgroup will be; known before it exists, so a half-made one is removed too
    // Rootless: cgroups below the subtree delegated to the user, if any
    // (cgroup-delegation.ts); otherwise the PID namespace alone keeps the
    // run's processes together (limits are not enforced, which `tsbuild
    // run` warns about).
    const rootless = inUserNamespace();
    const delegation = rootless ? cgroupDelegation() : undefined;
    const cgroupRoot = delegation?.ok ? delegation.dir : this.cgroupRoot;
    const cgroup = rootless && !delegation?.ok ? { ...cgroupHandleFor(cgroupsPath, cgroupRoot), dirs: [], procsFiles: [] } : cgroupHandleFor(cgroupsPath, cgroupRoot);
    const record: RunRecord = { id, ownerPid: process.pid, ownerStartTime: processStartTime(process.pid) ?? '', cgroupsPath, ...(delegation?.ok ? { cgroupRoot } : {}) };
    const runDir = await createRunDir(this.stateDir, record);
    let cgroupAttempted = false;
    let waiting: WaitingHelper | undefined;
    try {
      const configPath = join(runDir, 'helper.conf');
      // one started ahead of this run, if there is one (its parent, the config's owner, is the fsop helper)
      waiting = await takeWaitingHelper(this.helperPath, configPath, opts);
      const fullSpec = opts.etcFiles === false ? spec : withEtcFiles(spec, runDir, opts.etcFiles);
      writeFileSync(configPath, compileHelperConfig(fullSpec, {
        ownerPid: waiting?.parentPid ?? process.pid, cgroupProcs: cgroup.procsFiles,
        // beside the runs' dirs, not in them: compiled once, kept for the next runs
        seccompCacheDir: join(dirname(this.stateDir), 'seccomp'),
        // v1 takes the device rules as cgroup files (below); v2 as a program the helper attaches
        // (not rootless: attaching it needs the host's CAP_SYS_ADMIN; a user namespace makes no device nodes anyway)
        ...(cgroup.version === 2 && cgroup.dirs.length > 0 && !rootless ? { deviceCgroupDir: cgroup.dirs[0]! } : {}),
      }));
      cgroupAttempted = cgroup.dirs.length > 0;
      if (cgroupAttempted) await createCgroup(cgroupsPath, { ...spec.linux.resources, devices: deviceRulesOf(spec) }, cgroupRoot);
      const started = waiting;
      waiting = undefined;
      const running = started ? this.runWaitingHelper(started, configPath, runDir, record, opts) : this.runHelper(configPath, runDir, record, opts);
      opts.onRunning?.();
      const outcome = await running;
      // sweep before reading counters: nothing of this run may outlive it
      if (cgroupAttempted) await killCgroup(cgroup);
      const oomKilled = cgroupAttempted && await wasOomKilled(cgroup);
      return this.interpret(outcome, oomKilled, opts);
    } finally {
      // taken but never handed its config (the run failed before): it exits at the end of its stdin
      for (const s of waiting?.child.stdio ?? []) s.destroy();
      if (cgroupAttempted) {
        await killCgroup(cgroup);
        await removeCgroup(cgroup);
      }
      // a few small files (record, /etc files, helper config): synchronous calls, off the threadpool
      rmSync(runDir, { recursive: true, force: true });
    }
  }

  private interpret(outcome: HelperOutcome, oomKilled: boolean, opts: RunOptions): SandboxResult {
    const { status } = outcome;
    if (outcome.cancelled === 'timeout') throw new SandboxTimeoutError(opts.timeoutMs!);
    if (outcome.cancelled === 'abort') throw new SandboxAbortedError(opts.signal!.reason);
    if (status.error) throw status.error;
    if (status.exitCode === null && status.signal === null) {
      throw new SandboxSetupError(`the sandbox helper ended without a result (exit ${outcome.helperCode ?? 'unknown'})`);
    }
    return { exitCode: status.exitCode, signal: status.signal, oomKilled, createdPaths: status.createdPaths };
  }

  // As runHelper, with a helper already started (waiting-helper.ts): no exit code, its status says how it ended.
  private runWaitingHelper(waiting: WaitingHelper, configPath: string, runDir: string, record: RunRecord, opts: RunOptions): Promise<HelperOutcome> {
    const run = startWaitingHelper(waiting, configPath, opts);
    const cancel = cancellation(opts, () => run.kill());
    cancel.ifAborted();
    const recordUpdate = recordHelper(runDir, record, waiting.pid);
    return run.status.then(async (statusText) => {
      cancel.finish();
      await recordUpdate;
      return { status: parseHelperStatus(statusText), helperCode: null, cancelled: cancel.why() };
    });
  }

  private runHelper(configPath: string, runDir: string, record: RunRecord, opts: RunOptions): Promise<HelperOutcome> {
    const stdin = opts.stdin ?? 'ignore';
    const stdout = opts.stdout ?? 'ignore';
    const stderr = opts.stderr ?? 'ignore';
    return new Promise((resolve, reject) => {
      const child = spawn(this.helperPath, [configPath], { stdio: stdioFor(stdin, stdout, stderr, opts.resize !== undefined) });
      connectResize(child, opts.resize);
      let statusText = '';
      const cancel = cancellation(opts, () => child.kill('SIGKILL'));
      const statusPipe = child.stdio[3] as NodeJS.ReadableStream | null;
      statusPipe?.setEncoding('utf8');
      statusPipe?.on('data', (chunk: string) => { statusText += chunk; });
      connectStdio(child, stdin, stdout, stderr);
      cancel.ifAborted();
      const recordUpdate = child.pid === undefined ? Promise.resolve() : recordHelper(runDir, record, child.pid);
      child.on('error', (err) => {
        cancel.finish();
        reject(new SandboxUnavailableError(`cannot start ${this.helperPath}: ${err.message}`));
      });
      child.on('close', (code) => {
        cancel.finish();
        void recordUpdate.then(() => resolve({ status: parseHelperStatus(statusText), helperCode: code, cancelled: cancel.why() }));
      });
    });
  }
}

/**
 * Abort (opts.signal) and timeout (opts.timeoutMs) of a running helper:
 * both `kill` it, which is enough: PDEATHSIG kills the container init, and
 * the death of a PID-namespace init kills everything inside it. The cgroup
 * sweep in run() is the second line of defence.
 */
function cancellation(opts: RunOptions, kill: () => void) {
  let cancelled: HelperOutcome['cancelled'] = null;
  const cancel = (why: 'abort' | 'timeout') => {
    cancelled ??= why;
    kill();
  };
  const onAbort = () => cancel('abort');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeoutMs !== undefined ? setTimeout(() => cancel('timeout'), opts.timeoutMs) : null;
  return {
    /** The signal may have fired while the run was being prepared. */
    ifAborted: () => { if (opts.signal?.aborted) cancel('abort'); },
    finish: () => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    },
    why: () => cancelled,
  };
}

/** The helper's pid and start time in the run's record, for cleanupStale; awaited before run() removes the run dir. */
function recordHelper(runDir: string, record: RunRecord, pid: number): Promise<void> {
  return updateRunRecord(runDir, { ...record, helperPid: pid, helperStartTime: processStartTime(pid) ?? undefined }).catch(() => undefined);
}

/** Removes cgroups and state dirs of runs whose tsbuild process died. */
export { cleanupStale } from './state.js';
