// Outbound network for `run --network private` (Docker's default bridge
// has it) and RUN's default network (network-pool.ts): slirp4netns attaches a tap device to the container's network
// namespace and routes its traffic through user-space sockets of the host
// (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3). No bridge, no iptables,
// nothing on the host to clean up. `--disable-host-loopback` keeps the
// container away from services that listen on the host's 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';

export const SLIRP4NETNS = '/usr/bin/slirp4netns';
/** slirp4netns' built-in DNS forwarder, the container's nameserver */
export const SLIRP_DNS = '10.0.2.3';

let hostLoopback = false;

/**
 * Lets containers reach the host's 127.0.0.1 at 10.0.2.2 (slirp4netns
 * without --disable-host-loopback). Off by default, as in rootless Docker:
 * services listening on the host's loopback stay out of a build's reach.
 */
export function allowSlirpHostLoopback(allow: boolean): void {
  hostLoopback = allow;
}

export function slirpInstalled(): boolean {
  return existsSync(SLIRP4NETNS);
}

/** slirp4netns' options for a namespace, before its exit and ready fds, the pid and tap0. */
export function slirpOptions(): string[] {
  return ['--configure', '--mtu=65520', ...(hostLoopback ? [] : ['--disable-host-loopback'])];
}

export interface SlirpHandle {
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 5000;

/**
 * Starts slirp4netns for the namespace of `pid` and waits until the tap device is configured.
 * `background`: it must not keep this process alive (it exits with us through --exit-fd).
 */
export async function startSlirp(pid: number, opts: { background?: boolean } = {}): Promise<SlirpHandle> {
  // fd 3: --exit-fd, our end of a socketpair; when we die (even kill -9) it
  //       closes and slirp4netns exits by itself.
  // fd 4: --ready-fd, slirp4netns writes "1" there once tap0 is up.
  const child = spawn(SLIRP4NETNS, [...slirpOptions(), '--exit-fd=3', '--ready-fd=4', String(pid), 'tap0'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const ready = child.stdio[4] as NodeJS.ReadableStream;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`slirp4netns was not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      const done = (err?: Error) => { clearTimeout(timer); if (err) reject(err); else resolve(); };
      ready.once('data', () => done());
      child.once('error', (err) => done(err));
      child.once('exit', (code) => done(new Error(`slirp4netns exited with ${code}: ${stderr.trim().split('\n').pop() ?? ''}`)));
    });
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  if (opts.background) {
    child.unref();
    for (const stream of child.stdio) (stream as { unref?: () => void } | null)?.unref?.();
  }
  return { stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}
