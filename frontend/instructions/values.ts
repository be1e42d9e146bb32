/**
 * Validators for instruction values written in Docker's small formats:
 * tmpfs sizes, file modes, ports, signals, checksums, stage names. Each
 * returns the parsed value or throws ValueError with a user-facing reason.
 */

export class ValueError extends Error {}

/** True when the text refers to a build variable and must wait for expansion. */
export function hasVariable(text: string): boolean {
  return text.includes('$');
}

const SIZE_RE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const BINARY_UNITS: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** docker/go-units RAMInBytes: `64m`, `1g`, `512MiB`, `100` (bytes); binary multiples. */
export function parseRamSize(text: string): number {
  const m = SIZE_RE.exec(text);
  const num = m ? Number(m[1]) : NaN;
  if (!m || !Number.isFinite(num)) throw new ValueError(`invalid size: '${text}'`);
  const mult = m[2] ? BINARY_UNITS[m[2].toLowerCase()]! : 1;
  return Math.trunc(num * mult);
}

/** Octal permission bits as Go's strconv.ParseUint(s, 8, 32). */
export function parseOctal(text: string, max = 0xffffffff): number {
  if (!/^[0-7]+$/.test(text)) throw new ValueError(`invalid octal value ${JSON.stringify(text)}`);
  const n = Number.parseInt(text, 8);
  if (n > max) throw new ValueError(`octal value ${JSON.stringify(text)} out of range`);
  return n;
}

/** Decimal id as strconv.ParseUint(s, 10, 32). */
export function parseUint32(text: string): number {
  if (!/^\d+$/.test(text)) throw new ValueError(`invalid number ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n > 0xffffffff) throw new ValueError(`number ${JSON.stringify(text)} out of range`);
  return n;
}

/** Signed decimal in int32 range (strconv.ParseInt(s, 10, 32)). */
export function parseInt32(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw new ValueError(`invalid syntax: ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n > 2 ** 31 - 1 || n < -(2 ** 31)) throw new ValueError(`value out of range: ${JSON.stringify(text)}`);
  return n;
}

const SYMBOLIC_MODE = /^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+$/;

/** `--chmod`: octal (`755`, `0644`) or symbolic (`u+x,g-w`). */
export function validateChmod(text: string): void {
  if (/^[0-7]{1,4}$/.test(text)) return;
  if (text.split(',').every((clause) => SYMBOLIC_MODE.test(clause))) return;
  throw new ValueError(`invalid chmod value ${JSON.stringify(text)}: expected an octal mode like 0755 or a symbolic mode like u+x`);
}

/** `--chown` / USER: `user[:group]`, neither part empty. */
export function validateUserGroup(text: string): void {
  const [user, group, extra] = text.split(':');
  if (!user || group === '' || extra !== undefined || /\s/.test(text)) {
    throw new ValueError(`invalid user ${JSON.stringify(text)}: expected user[:group]`);
  }
}

export interface ParsedPort {
  port: number;
  endPort?: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** EXPOSE `80`, `80/tcp`, `53/udp`, `8000-8010`, `8000-8010/udp`. */
export function parsePortSpec(text: string): ParsedPort {
  const m = /^(\d+)(?:-(\d+))?(?:\/([a-zA-Z]+))?$/.exec(text);
  if (!m) throw new ValueError(`invalid port ${JSON.stringify(text)}: expected port[-endport][/tcp|udp|sctp]`);
  const port = Number(m[1]);
  const endPort = m[2] !== undefined ? Number(m[2]) : undefined;
  const protocol = (m[3] ?? 'tcp').toLowerCase();
  if (port > 65535 || (endPort !== undefined && endPort > 65535)) throw new ValueError(`invalid port ${JSON.stringify(text)}: out of range`);
  if (endPort !== undefined && endPort < port) throw new ValueError(`invalid port range ${JSON.stringify(text)}: end is before start`);
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') {
    throw new ValueError(`invalid protocol ${JSON.stringify(m[3])} in port ${JSON.stringify(text)}`);
  }
  return { port, ...(endPort !== undefined ? { endPort } : {}), protocol };
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'UNUSED', 'URG',
  'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
]);

/** STOPSIGNAL: a signal number, or a name with or without `SIG` (`SIGTERM`, `TERM`, `SIGRTMIN+3`). */
export function validateSignal(text: string): void {
  if (/^\d+$/.test(text)) {
    if (Number(text) === 0 || Number(text) > 64) throw new ValueError(`invalid signal: ${text}`);
    return;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTM(IN|AX)([+-](\d+))?$/.exec(name);
  if (rt) return;
  if (!SIGNALS.has(name)) throw new ValueError(`invalid signal: ${text}`);
}

/** ADD --checksum: `<algorithm>:<hex>` with sha256/sha384/sha512. */
export function validateChecksum(text: string): void {
  const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/.exec(text);
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  if (!m || m[2]!.length !== lengths[m[1]!]) {
    throw new ValueError(`invalid checksum ${JSON.stringify(text)}: expected sha256:<64 hex digits> (or sha384/sha512)`);
  }
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function isValidStageName(name: string): boolean {
  return STAGE_NAME.test(name);
}
