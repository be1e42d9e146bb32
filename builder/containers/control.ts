// What other tsbuild processes do to a container that some supervisor (or
// foreground `tsbuild run`) owns: start it detached, stop it, remove it,
// and notice when its owner died without recording the end (kill -9).
// They never touch the sandbox directly: they signal the container's init
// (a host pid with its start time) and wait for the owner to write state.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { cleanupStale, DEFAULT_STATE_DIR, packageRoot } from '../../runner-native/index.js';
import type { Container, ContainerState, ContainerStore } from './container-store.js';
import { ContainerError } from './errors.js';
import { killCgroupMembers, removeCgroupDirs } from './init-process.js';
import { isAlive, signalIfAlive } from './liveness.js';

// A separate process (not part of the CLI bundle): always the compiled module.
const SUPERVISOR = join(packageRoot(), 'dist', 'builder', 'containers', 'supervisor.js');
// a container being created has no owner for a moment; after this long it never will
const ORPHAN_GRACE_MS = 60_000;

export function isActive(state: ContainerState): boolean {
  return state.status === 'created' || state.status === 'running' || state.restarting === true;
}

/** True when the container claims to be active but nobody runs it any more. */
export function isLost(c: Container): boolean {
  if (!isActive(c.state)) return false;
  if (c.state.owner) return !isAlive(c.state.owner);
  return Date.now() - Date.parse(c.config.created) > ORPHAN_GRACE_MS;
}

/** Marks a lost container exited, kills whatever is left of it, and removes it if it was --rm. */
export async function reapLost(containers: ContainerStore, c: Container): Promise<void> {
  await killCgroupMembers(c.config.spec.linux.cgroupsPath!);
  // the dead owner's sandbox records (its cgroups, /etc files) go too
  await cleanupStale(DEFAULT_STATE_DIR).catch(() => undefined);
  await removeCgroupDirs(c.config.spec.linux.cgroupsPath!);
  const state = await containers.updateState(c.config.id, {
    status: 'exited', exitCode: c.state.exitCode ?? 137, finishedAt: new Date().toISOString(),
    error: 'the process running this container died (killed?); its processes were stopped',
  });
  if (c.config.autoRemove) await containers.remove({ ...c, state });
}

/** Every container, with lost ones reaped first: what `ps` and friends should see. */
export async function listContainers(containers: ContainerStore): Promise<Container[]> {
  for (const c of await containers.list()) {
    if (isLost(c)) await reapLost(containers, c);
  }
  return containers.list();
}

export async function findContainer(containers: ContainerStore, idOrName: string): Promise<Container> {
  const c = await containers.find(idOrName);
  if (!isLost(c)) return c;
  await reapLost(containers, c);
  return containers.find(idOrName);
}

/** Polls state.json until `done` holds, the owner dies, or the time is up; returns the last view. */
async function waitFor(containers: ContainerStore, c: Container, done: (c: Container) => boolean, timeoutMs: number): Promise<Container> {
  const deadline = Date.now() + timeoutMs;
  let current = c;
  for (;;) {
    const fresh = await containers.load(c.config.id);
    if (!fresh) return { ...current, state: { ...current.state, status: 'exited' } };
    current = fresh;
    if (done(current)) return current;
    if (isLost(current)) {
      await reapLost(containers, current);
      return (await containers.load(c.config.id)) ?? { ...current, state: { ...current.state, status: 'exited' } };
    }
    if (Date.now() >= deadline) return current;
    await sleep(50);
  }
}

/**
 * Starts the supervisor in its own session and waits until the command
 * runs (or failed to start). The supervisor tells us over an IPC channel
 * rather than through state.json, because with --rm a container that
 * failed at once may already be gone from disk. Its own output goes to
 * supervisor.log.
 */
export async function startDetached(containers: ContainerStore, c: Container): Promise<ContainerState> {
  const report = (await spawnSupervisor(containers, c, false))?.state;
  if (!report) {
    throw new ContainerError('START_FAILED', `the container's supervisor ended before the container started; see ${containers.supervisorLogFile(c.config.id)}`);
  }
  return report;
}

/**
 * `run -it`: the supervisor listens on the attach socket and starts the
 * container once the caller has attached (see attach-client.ts).
 */
export async function startForAttach(containers: ContainerStore, c: Container): Promise<void> {
  if (!(await spawnSupervisor(containers, c, true))?.listening) {
    throw new ContainerError('START_FAILED', `the container's supervisor ended before it was ready; see ${containers.supervisorLogFile(c.config.id)}`);
  }
}

async function spawnSupervisor(containers: ContainerStore, c: Container, waitAttach: boolean): Promise<StartReport | null> {
  const logFd = openSync(containers.supervisorLogFile(c.config.id), 'a', 0o600);
  let child;
  try {
    child = spawn(process.execPath, [SUPERVISOR, containers.root, c.config.id, ...(waitAttach ? ['--wait-attach'] : [])], {
      detached: true,
      stdio: ['ignore', logFd, logFd, 'ipc'],
    });
  } finally {
    closeSync(logFd);
  }
  const report = await new Promise<StartReport | null>((resolve) => {
    child.once('message', (msg: StartReport) => resolve(msg));
    child.once('exit', () => resolve(null));
    child.once('error', () => resolve(null));
  });
  // from here on the supervisor lives on its own
  if (child.connected) child.disconnect();
  child.unref();
  return report;
}

/** What the supervisor sends once: the container's state after its start (or failure to start). */
export interface StartReport {
  state?: ContainerState;
  /** with --wait-attach: the attach socket is ready */
  listening?: boolean;
}

function signalNumber(name: string): number | NodeJS.Signals {
  if (/^\d+$/.test(name)) return Number(name);
  if (!(name in constants.signals)) throw new ContainerError('INVALID_RUN_OPTION', `invalid signal: ${name}`);
  return name as NodeJS.Signals;
}

/** Sends a signal to the container's init (Docker's `kill`); false if it does not run. */
export function signalContainer(c: Container, signal: string): boolean {
  return c.state.status === 'running' && signalIfAlive(c.state.init, signalNumber(signal));
}

/**
 * `docker stop`: the image's stop signal, then SIGKILL after `timeoutSec`.
 * A PID 1 without a handler ignores SIGTERM (the kernel's rule for
 * namespace inits), so such containers take the whole timeout, as in Docker.
 */
export async function stopContainer(containers: ContainerStore, c: Container, timeoutSec: number): Promise<void> {
  if (!isActive(c.state)) return;
  await containers.updateState(c.config.id, { stopRequested: true });
  const exited = (x: Container) => !isActive(x.state);
  if (timeoutSec > 0 || timeoutSec < 0) {
    signalContainer(c, c.config.stopSignal);
    const after = await waitFor(containers, c, exited, timeoutSec < 0 ? 365 * 86400_000 : timeoutSec * 1000);
    if (exited(after)) return;
  }
  await killContainer(containers, c);
}

/** SIGKILL to the init (which takes its whole PID namespace along), then waits for the owner to record the end. */
export async function killContainer(containers: ContainerStore, c: Container): Promise<void> {
  if (isActive(c.state)) await containers.updateState(c.config.id, { stopRequested: true });
  const fresh = (await containers.load(c.config.id)) ?? c;
  if (!signalIfAlive(fresh.state.init, 'SIGKILL')) await killCgroupMembers(c.config.spec.linux.cgroupsPath!);
  const after = await waitFor(containers, fresh, (x) => !isActive(x.state), 15_000);
  if (isActive(after.state)) throw new ContainerError('CONTAINER_RUNNING', `container ${c.config.name} did not stop after SIGKILL`);
}

/** `docker rm [-f]`: refuses a running container without force; waits for the owner to let go first. */
export async function removeContainer(containers: ContainerStore, c: Container, force: boolean, volumes = false): Promise<void> {
  if (isActive(c.state)) {
    if (!force) {
      throw new ContainerError('CONTAINER_RUNNING',
        `cannot remove container "${c.config.name}": container is running: stop the container before removing or force remove`);
    }
    await killContainer(containers, c);
  }
  const fresh = await containers.load(c.config.id);
  if (!fresh) return; // --rm removed it meanwhile
  // the owner may still be tearing down (proxy, slirp, logs): let it finish before its dir goes
  for (let i = 0; i < 200 && isAlive(fresh.state.owner); i++) await sleep(50);
  await containers.remove(fresh, { volumes });
}
