import { readFileSync } from 'node:fs';
import { SandboxSpecError } from './errors.js';
import type { SandboxCapabilities } from './spec.js';

// Linux capability numbers (include/uapi/linux/capability.h), in order.
const CAPABILITY_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID',
  'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW',
  'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT',
  'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD',
  'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG',
  'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
] as const;

/** Number of a capability, given as `CAP_CHOWN` (OCI form) or `CHOWN`. */
export function capabilityNumber(name: string): number {
  const bare = name.toUpperCase().replace(/^CAP_/, '');
  const index = (CAPABILITY_NAMES as readonly string[]).indexOf(bare);
  if (index < 0) throw new SandboxSpecError(`unknown capability ${JSON.stringify(name)}`);
  return index;
}

/** Bit mask of a capability list, as the kernel shows it in /proc/<pid>/status. */
export function capabilityMask(names: readonly string[] = []): bigint {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(capabilityNumber(name));
  return mask;
}

/** Names (OCI spelling) of the capabilities in a /proc/<pid>/status `CapBnd:` mask. */
export function capabilitiesInMask(mask: bigint): string[] {
  return CAPABILITY_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n).map((n) => `CAP_${n}`);
}

/**
 * The capabilities a sandbox can be given: those in this process's bounding
 * set. What `--security=insecure` / `--privileged` should grant — a fixed
 * "every capability" list breaks where tsbuild itself runs with fewer (in a
 * container or a VM sandbox lacking e.g. CAP_SYS_RESOURCE), as capset then
 * refuses the whole set.
 */
export function grantableCapabilities(procStatus = readFileSync('/proc/self/status', 'utf8')): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(procStatus);
  return m ? capabilitiesInMask(BigInt(`0x${m[1]}`)) : [];
}

/** Throws a clear error when a spec asks for capabilities this process cannot pass on (capset would fail with EPERM). */
export function assertCapabilitiesGrantable(caps: SandboxCapabilities | undefined, grantable = grantableCapabilities()): void {
  if (!caps) return;
  // Bounding-set entries beyond ours are harmless (dropping a cap already gone); the others must be held.
  const wanted = capabilityMask([...caps.effective, ...caps.permitted, ...caps.inheritable ?? [], ...caps.ambient ?? []]);
  const missing = capabilitiesInMask(wanted & ~capabilityMask(grantable));
  if (missing.length > 0) {
    throw new SandboxSpecError(`capabilities ${missing.join(', ')} cannot be granted: tsbuild itself does not hold them (not in its bounding set)`);
  }
}
