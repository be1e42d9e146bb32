// Health checks, run as docker runs them: the image's HEALTHCHECK (or the
// --health-* flags) is executed inside the running container every
// interval (the first time one interval after the start), with a timeout;
// exit 0 is healthy, anything else a failure, and `retries` failures in a
// row make the container unhealthy. Failures during the start period do
// not count, a success ends it. The last five results are kept, as
// State.Health in inspect shows them.
import { execInContainer, SandboxAbortedError, type SandboxProcess } from '../../runner-native/index.js';
import { parseGoDuration } from '../../frontend/instructions/duration.js';
import type { HealthConfig } from '../image/types.js';
import type { Container, ContainerStore, HealthLogEntry, HealthState } from './container-store.js';
import { ContainerError } from './errors.js';
import type { HealthFlags } from './run-options.js';
import type { ProcessRef } from './liveness.js';

const SECOND_NS = 1e9;
const DEFAULTS = { interval: 30 * SECOND_NS, timeout: 30 * SECOND_NS, retries: 3, startPeriod: 0 };
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT = 4096;

function duration(text: string, flag: string): number {
  try {
    const ns = parseGoDuration(text);
    if (ns < 0) throw new Error('negative');
    return ns;
  } catch {
    throw new ContainerError('INVALID_RUN_OPTION', `invalid argument "${text}" for "--${flag}" flag: time: invalid duration "${text}"`);
  }
}

/** The image's HEALTHCHECK with the CLI's overrides; undefined when there is none (or NONE). */
export function effectiveHealthcheck(image: HealthConfig | undefined, flags: HealthFlags): HealthConfig | undefined {
  if (flags.none) {
    if (flags.cmd !== undefined) throw new ContainerError('INVALID_RUN_OPTION', '--no-healthcheck conflicts with --health-* options');
    return undefined;
  }
  const merged: HealthConfig = { ...(image ?? { Test: [] }) };
  if (flags.cmd !== undefined) merged.Test = ['CMD-SHELL', flags.cmd];
  if (flags.interval !== undefined) merged.Interval = duration(flags.interval, 'health-interval');
  if (flags.timeout !== undefined) merged.Timeout = duration(flags.timeout, 'health-timeout');
  if (flags.startPeriod !== undefined) merged.StartPeriod = duration(flags.startPeriod, 'health-start-period');
  if (flags.retries !== undefined) {
    if (!/^\d+$/.test(flags.retries)) throw new ContainerError('INVALID_RUN_OPTION', `invalid argument "${flags.retries}" for "--health-retries" flag`);
    merged.Retries = Number(flags.retries);
  }
  const kind = merged.Test[0];
  if (!kind || kind === 'NONE') return undefined;
  return merged;
}

function probeArgs(test: string[]): string[] {
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  if (test[0] === 'CMD') return test.slice(1);
  return test;
}

/** Docker's ps suffix: ` (healthy)`, ` (health: starting)`, ` (unhealthy)`. */
export function healthSuffix(h: HealthState | undefined): string {
  if (!h) return '';
  return h.Status === 'starting' ? ' (health: starting)' : ` (${h.Status})`;
}

export class HealthMonitor {
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private running: AbortController | null = null;
  private readonly startedAt = Date.now();
  private health: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };
  private inStartPeriod = true;

  constructor(private readonly containers: ContainerStore, private readonly c: Container, private readonly init: ProcessRef, private readonly config: HealthConfig) {}

  async start(): Promise<void> {
    await this.containers.updateState(this.c.config.id, { health: this.health });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.running?.abort();
  }

  private schedule(): void {
    if (this.stopped) return;
    const intervalMs = (this.config.Interval || DEFAULTS.interval) / 1e6;
    this.timer = setTimeout(() => void this.probe().finally(() => this.schedule()), intervalMs);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    const timeoutNs = this.config.Timeout || DEFAULTS.timeout;
    const start = new Date();
    const output: Buffer[] = [];
    const keep = (chunk: Buffer) => { if (output.reduce((n, b) => n + b.length, 0) < MAX_OUTPUT) output.push(chunk); };
    this.running = new AbortController();
    const timer = setTimeout(() => this.running?.abort(), timeoutNs / 1e6);
    const main = this.c.config.spec.process;
    const proc: SandboxProcess = { ...main, args: probeArgs(this.config.Test), terminal: false };
    let exitCode: number;
    let text: string;
    try {
      const r = await execInContainer({ initPid: this.init.pid, cgroupsPath: this.c.config.spec.linux.cgroupsPath!, seccomp: this.c.config.spec.linux.seccomp }, proc,
        { stdout: keep, stderr: keep, signal: this.running.signal });
      exitCode = r.exitCode ?? 1;
      text = Buffer.concat(output).subarray(0, MAX_OUTPUT).toString();
    } catch (err) {
      if (this.stopped) return;
      exitCode = -1;
      text = err instanceof SandboxAbortedError ? `Health check exceeded timeout (${timeoutNs / SECOND_NS}s)` : (err as Error).message;
    } finally {
      clearTimeout(timer);
      this.running = null;
    }
    if (this.stopped) return;
    this.record({ Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: text });
    await this.containers.updateState(this.c.config.id, { health: this.health });
  }

  private record(entry: HealthLogEntry): void {
    const log = [...this.health.Log, entry].slice(-MAX_LOG_ENTRIES);
    const startPeriodMs = (this.config.StartPeriod ?? DEFAULTS.startPeriod) / 1e6;
    if (this.inStartPeriod && Date.now() - this.startedAt >= startPeriodMs) this.inStartPeriod = false;
    if (entry.ExitCode === 0) {
      this.inStartPeriod = false;
      this.health = { Status: 'healthy', FailingStreak: 0, Log: log };
      return;
    }
    if (this.inStartPeriod) {
      this.health = { ...this.health, Log: log };
      return;
    }
    const streak = this.health.FailingStreak + 1;
    const retries = this.config.Retries || DEFAULTS.retries;
    this.health = { Status: streak >= retries ? 'unhealthy' : this.health.Status, FailingStreak: streak, Log: log };
  }
}
