// Docker's mount spellings → one MountRequest each:
//   -v /host/path:/dst[:ro]      a bind mount (file or directory)
//   -v name:/dst[:ro]            a named volume (created when missing)
//   -v /dst                      an anonymous volume
//   --mount type=bind|volume|tmpfs,source=..,target=..,readonly,...
//   --tmpfs /dst[:size=64m,mode=1777,...]
// Pure (no fs), so every spelling has a unit test.
import path from 'node:path';
import { ContainerError } from './errors.js';

export type MountRequest =
  | { kind: 'bind'; source: string; destination: string; readonly: boolean }
  /** name undefined: an anonymous volume */
  | { kind: 'volume'; name?: string; destination: string; readonly: boolean; nocopy: boolean }
  | { kind: 'tmpfs'; destination: string; options: string[] };

const NAME_RULE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function invalid(message: string): ContainerError {
  return new ContainerError('INVALID_RUN_OPTION', message);
}

function destinationOf(text: string, spec: string): string {
  if (!text.startsWith('/')) throw invalid(`invalid mount config '${spec}': the destination '${text}' must be an absolute path`);
  return path.posix.normalize(text);
}

export function validVolumeName(name: string): string {
  if (!NAME_RULE.test(name)) throw invalid(`"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  return name;
}

/** `-v`: HOST:DST[:MODE], NAME:DST[:MODE] or DST. */
export function parseVolumeFlag(text: string, cwd = process.cwd()): MountRequest {
  const parts = text.split(':');
  if (parts.length === 1) return { kind: 'volume', destination: destinationOf(parts[0]!, text), readonly: false, nocopy: false };
  let mode = 'rw';
  if (parts.length === 3) mode = parts.pop()!;
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw invalid(`invalid volume specification: '${text}'`);
  const modes = mode.split(',');
  for (const m of modes) {
    if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'rprivate', 'private'].includes(m)) throw invalid(`invalid mode '${m}' in volume '${text}'`);
  }
  const readonly = modes.includes('ro');
  const [source, dst] = parts as [string, string];
  const destination = destinationOf(dst, text);
  if (source.startsWith('/') || source.startsWith('.')) return { kind: 'bind', source: path.resolve(cwd, source), destination, readonly };
  return { kind: 'volume', name: validVolumeName(source), destination, readonly, nocopy: modes.includes('nocopy') };
}

/** `--mount type=...,source=...,target=...` (CSV of key=value, docker's keys and aliases). */
export function parseMountFlag(text: string, cwd = process.cwd()): MountRequest {
  const fields = new Map<string, string>();
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    fields.set(key, eq < 0 ? 'true' : item.slice(eq + 1));
  }
  const type = fields.get('type') ?? 'volume';
  const target = fields.get('target') ?? fields.get('destination') ?? fields.get('dst');
  if (!target) throw invalid(`invalid mount config '${text}': target is required`);
  const destination = destinationOf(target, text);
  const source = fields.get('source') ?? fields.get('src');
  const readonly = ['readonly', 'ro'].some((k) => fields.has(k) && fields.get(k) !== 'false');
  if (type === 'bind') {
    if (!source) throw invalid(`invalid mount config for type "bind": field Source must not be empty`);
    return { kind: 'bind', source: path.resolve(cwd, source), destination, readonly };
  }
  if (type === 'volume') {
    return { kind: 'volume', ...(source ? { name: validVolumeName(source) } : {}), destination, readonly, nocopy: fields.get('volume-nocopy') === 'true' };
  }
  if (type === 'tmpfs') {
    if (source) throw invalid('invalid mount config for type "tmpfs": source is not allowed');
    const options: string[] = [];
    const size = fields.get('tmpfs-size');
    if (size) options.push(`size=${size}`);
    const mode = fields.get('tmpfs-mode');
    if (mode) options.push(`mode=${mode}`);
    if (readonly) options.push('ro');
    return { kind: 'tmpfs', destination, options };
  }
  throw invalid(`invalid mount config: unknown mount type '${type}' (bind, volume, tmpfs)`);
}

/** `--tmpfs /dst[:opt,opt]`. */
export function parseTmpfsFlag(text: string): MountRequest {
  const colon = text.indexOf(':');
  const destination = destinationOf(colon < 0 ? text : text.slice(0, colon), text);
  const options = colon < 0 ? [] : text.slice(colon + 1).split(',').filter(Boolean);
  return { kind: 'tmpfs', destination, options };
}
