// Outbound network for `run --network private` (Docker's default bridge
// has it) and RUN's default network, both through network-pool.ts's
// holders: slirp4netns attaches a tap device to the holder's network
// namespace and routes its traffic through user-space sockets of the host
// (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3). No bridge, no iptables,
// nothing on the host to clean up. `--disable-host-loopback` keeps the
// container away from services that listen on the host's 127.0.0.1.
import { existsSync } from 'node:fs';

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
