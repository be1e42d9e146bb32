import { SandboxSpecError } from './errors.js';

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
