// Runs a created container to its end and keeps its state.json true on
// the way: created → running (init pid known, command exec'd) → exited
// (exit code, OOM). Used in-process by a foreground `tsbuild run` and by
// the detached supervisor alike. Also owns the container's network extras
// (its namespace with slirp4netns, the port proxy) and `--rm`.
//
// The default (private) network is made before the container starts, as
// docker's is: a namespace held by the network pool's holder with
// slirp4netns already attached (runner-native/network-pool.ts, the one
// RUN uses), which the container joins. Attached after the command had
// started, a command's first connection could find no tap0 and no route
// ("network is unreachable") for the few ms slirp4netns took.
import { realpathSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import {
  defaultHosts, leaseNetworkNamespace, Sandbox, SandboxAbortedError, SandboxError, SandboxExecNotFoundError, slirpInstalled,
  type EtcFilesOptions, type InputSource, type NetworkLease, type SandboxResult, type SandboxSpec,
} from '../../runner-native/index.js';
import type { Container, ContainerState, ContainerStore } from './container-store.js';
import { HealthMonitor } from './health.js';
import { waitForContainerInit } from './init-process.js';
import { refOf } from './liveness.js';
import { LogWriter } from './logs.js';
import { PortProxy } from './port-proxy.js';

export interface ExecuteIo {
  stdin: InputSource;
  /** with a pty: "ROWS COLS" lines, each a new window size */
  resize?: NodeJS.ReadableStream;
  /** besides the log file (a foreground run shows the output too) */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** aborting kills the container */
  signal?: AbortSignal;
  /** called once the command runs (state is `running`), or once it failed to */
  onStarted?: (state: ContainerState) => void;
  /**
   * Asked once the command ended: will the supervisor run it again (--restart)?
   * The answer is recorded with the exit in one write, so `wait` and `ps`
   * never see an exited container that is about to restart.
   */
  willRestart?: (exitCode: number) => Promise<boolean>;
  /** tsbuild's own notes for the user (network fallbacks, ...) */
  notice?: (message: string) => void;
}

/** Docker's exit codes: the command's own, 128+N for a signal, 126/127 for cannot-exec/not-found, 125 for our errors. */
export function exitCodeOf(result: SandboxResult): number {
  if (result.exitCode !== null) return result.exitCode;
  return 128 + (result.signal ? constants.signals[result.signal] ?? 9 : 9);
}

export function exitCodeOfError(err: unknown): number {
  if (err instanceof SandboxExecNotFoundError) return 127;
  if (err instanceof SandboxAbortedError) return 137;
  // the helper reports a failed execve (EACCES, ENOEXEC, ...) as a setup error whose message starts with "exec "
  if (err instanceof SandboxError && /^sandbox setup failed: exec /.test(err.message)) return 126;
  return 125;
}

/**
 * The namespace a private-network container joins, slirp4netns attached;
 * null when the container keeps a namespace of its own with loopback only
 * (the user was told why).
 */
async function leaseNetwork(c: Container, io: ExecuteIo): Promise<NetworkLease | null> {
  if (c.config.network !== 'private') return null;
  if (!slirpInstalled()) {
    io.notice?.('slirp4netns is not installed (apt-get install slirp4netns): the container has loopback only, no outbound network');
    return null;
  }
  try {
    const lease = await leaseNetworkNamespace();
    // Rootless, slirp4netns may fail for reasons of the host's: a namespace with loopback only.
    if (lease.resolvConf === undefined) io.notice?.('outbound network unavailable: slirp4netns could not start; the container has loopback only');
    return lease;
  } catch (err) {
    io.notice?.(`outbound network unavailable: ${(err as Error).message}; the container has loopback only`);
    return null;
  }
}

/** The spec with its network namespace replaced by the leased one. */
function joiningNetwork(spec: SandboxSpec, lease: NetworkLease | null): SandboxSpec {
  if (!lease) return spec;
  const namespaces = spec.linux.namespaces.map((n) => (n.type === 'network' ? { type: 'network' as const, path: lease.namespacePath } : n));
  return { ...spec, linux: { ...spec.linux, namespaces } };
}

/**
 * A restarted container mounts its upper dir again: overlayfs refuses a
 * work dir that a previous (volatile) mount left its marker in, and the
 * work dir holds nothing of value between mounts.
 */
export async function resetOverlayWorkDir(c: Container): Promise<void> {
  const work = c.config.spec.rootLayers?.workDir;
  if (!work) return;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
}

/** /etc/hosts with --add-host entries; /etc/resolv.conf from --dns, else slirp's forwarder, else the host's. */
function etcFilesOf(c: Container, lease: NetworkLease | null): EtcFilesOptions {
  const files: EtcFilesOptions = {};
  if (c.config.extraHosts?.length) files.hosts = defaultHosts(c.config.spec.hostname) + c.config.extraHosts.map((h) => `${h}\n`).join('');
  if (c.config.dns?.length) files.resolvConf = c.config.dns.map((d) => `nameserver ${d}\n`).join('');
  // with slirp the host's resolver (often 127.0.0.x) is unreachable: use slirp's DNS forwarder
  else if (lease?.resolvConf !== undefined) files.resolvConf = lease.resolvConf;
  return files;
}

/** Runs the container; resolves with its final state (and removes it first with --rm). */
export async function executeContainer(containers: ContainerStore, c: Container, io: ExecuteIo): Promise<ContainerState> {
  const { id } = c.config;
  const owner = refOf(process.pid);
  let state = await containers.updateState(id, { status: 'created', owner, restarting: false, error: undefined, exitCode: undefined, oomKilled: undefined });
  await resetOverlayWorkDir(c);
  const log = new LogWriter(containers.logFile(id));
  let proxy: PortProxy | null = null;
  let lease: NetworkLease | null = null;
  const health: { monitor: HealthMonitor | null } = { monitor: null };
  const finished = new AbortController();
  try {
    try {
      if (c.config.ports.length > 0) proxy = await PortProxy.listen(c.config.ports);
    } catch (err) {
      state = await containers.updateState(id, { status: 'exited', exitCode: 125, error: (err as Error).message, finishedAt: new Date().toISOString() });
      io.onStarted?.(state);
      return state;
    }
    const sandbox = new Sandbox();
    const helper = realpathSync(sandbox.helperPath);
    const cgroupsPath = c.config.spec.linux.cgroupsPath!;
    lease = await leaseNetwork(c, io);
    const run = sandbox.run(joiningNetwork(c.config.spec, lease), {
      stdin: io.stdin,
      stdout: (chunk) => { log.write('stdout', chunk); io.onStdout?.(chunk); },
      stderr: (chunk) => { log.write('stderr', chunk); io.onStderr?.(chunk); },
      signal: io.signal,
      resize: io.resize,
      etcFiles: etcFilesOf(c, lease),
    });
    const started = waitForContainerInit(cgroupsPath, helper, finished.signal).then(async (pid) => {
      const init = pid === undefined ? undefined : refOf(pid);
      if (!init) return;
      state = await containers.updateState(id, {
        status: 'running', init, startedAt: new Date().toISOString(), ports: proxy?.ports ?? [],
      });
      if (proxy) await proxy.attach(init.pid, c.config.id).catch((err: Error) => io.notice?.(`published ports will not work: ${err.message}`));
      if (c.config.healthcheck && !finished.signal.aborted) {
        health.monitor = new HealthMonitor(containers, c, init, c.config.healthcheck);
        await health.monitor.start();
      }
      io.onStarted?.(state);
    });
    let final: Partial<ContainerState>;
    try {
      const result = await run;
      final = { exitCode: exitCodeOf(result), oomKilled: result.oomKilled };
    } catch (err) {
      const code = exitCodeOfError(err);
      final = { exitCode: code, oomKilled: false, ...(code === 137 ? {} : { error: (err as Error).message }) };
      if (!(err instanceof SandboxError)) final.error = `internal error: ${(err as Error).stack ?? String(err)}`;
    }
    finished.abort();
    await started.catch(() => undefined);
    health.monitor?.stop();
    const restarting = (await io.willRestart?.(final.exitCode ?? 125)) ?? false;
    state = await containers.updateState(id, { ...final, status: 'exited', finishedAt: new Date().toISOString(), restarting });
    if (state.startedAt === undefined) io.onStarted?.(state);
    return state;
  } finally {
    finished.abort();
    health.monitor?.stop();
    // Not handed back: the container could have changed it (--cap-add NET_ADMIN); slirp4netns ends with its holder.
    lease?.release(true);
    await proxy?.close();
    await log.close();
    if (c.config.autoRemove) await containers.remove(c, { volumes: true });
  }
}
