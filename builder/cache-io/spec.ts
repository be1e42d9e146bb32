// --cache-to / --cache-from as docker buildx spells them, checked before
// the build starts so a typo fails at once instead of after a long build:
//   --cache-to   type=registry,ref=R[,mode=min|max][,compression=gzip|uncompressed][,mounts=true][,ignore-error=true]
//   --cache-to   type=local,dest=DIR[,tag=T][,mode=...][,...]
//   --cache-from type=registry,ref=R | type=local,src=DIR[,tag=T] | R   ([,mounts=false] skips cache mounts)
import { UsageError } from '../errors.js';

/** One --cache-to/--cache-from value as given: its type and its other attributes. */
export interface CacheSpec {
  type: string;
  attrs: Map<string, string>;
}

export type CacheLocation =
  | { type: 'registry'; ref: string }
  | { type: 'local'; dir: string; tag: string };

export interface CacheExportSpec {
  location: CacheLocation;
  // min: the final image's chain of steps; max: every step solved in the build.
  mode: 'min' | 'max';
  compression: 'gzip' | 'uncompressed';
  compressionLevel?: number;
  mounts: boolean;
  ignoreError: boolean;
}

export interface CacheImportSpec {
  location: CacheLocation;
  mounts: boolean;
}

// BuildKit options that only tune its own formats; accepted so that
// scripts written for buildx keep working, and without effect here.
const IGNORED = new Set(['image-manifest', 'oci-mediatypes', 'force-compression', 'store', 'name']);
const DEFAULT_TAG = 'latest';

function bool(spec: Map<string, string>, key: string, flag: string, fallback: boolean): boolean {
  const v = spec.get(key);
  if (v === undefined) return fallback;
  if (v === '' || v === 'true') return true;
  if (v === 'false') return false;
  throw new UsageError(`${flag}: ${key}=${v}: expected true or false`);
}

function checkKeys(spec: CacheSpec, allowed: string[], flag: string): void {
  for (const k of spec.attrs.keys()) {
    if (!allowed.includes(k) && !IGNORED.has(k)) throw new UsageError(`${flag} type=${spec.type}: unknown option "${k}" (known: ${allowed.join(', ')})`);
  }
}

function location(spec: CacheSpec, flag: string, dirKey: 'src' | 'dest'): CacheLocation {
  if (spec.type === 'registry') {
    const ref = spec.attrs.get('ref');
    if (!ref) throw new UsageError(`${flag} type=registry needs ref=<image reference>`);
    return { type: 'registry', ref };
  }
  if (spec.type === 'local') {
    const dir = spec.attrs.get(dirKey);
    if (!dir) throw new UsageError(`${flag} type=local needs ${dirKey}=<directory>`);
    return { type: 'local', dir, tag: spec.attrs.get('tag') || DEFAULT_TAG };
  }
  throw new UsageError(`${flag} type=${spec.type} is not supported (use type=registry or type=local)`);
}

export function parseCacheExport(spec: CacheSpec): CacheExportSpec {
  const flag = '--cache-to';
  const loc = location(spec, flag, 'dest');
  checkKeys(spec, [loc.type === 'registry' ? 'ref' : 'dest', ...(loc.type === 'local' ? ['tag'] : []), 'mode', 'compression', 'compression-level', 'mounts', 'ignore-error'], flag);
  const mode = spec.attrs.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new UsageError(`${flag}: mode=${mode}: expected min or max`);
  const compression = spec.attrs.get('compression') ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'uncompressed') throw new UsageError(`${flag}: compression=${compression}: expected gzip or uncompressed`);
  const levelText = spec.attrs.get('compression-level');
  const level = levelText === undefined ? undefined : Number(levelText);
  if (level !== undefined && (!Number.isInteger(level) || level < 0 || level > 9)) throw new UsageError(`${flag}: compression-level=${levelText}: expected 0 to 9`);
  return {
    location: loc, mode, compression,
    ...(level !== undefined ? { compressionLevel: level } : {}),
    mounts: bool(spec.attrs, 'mounts', flag, false),
    ignoreError: bool(spec.attrs, 'ignore-error', flag, false),
  };
}

export function parseCacheImport(spec: CacheSpec): CacheImportSpec {
  const flag = '--cache-from';
  const loc = location(spec, flag, 'src');
  checkKeys(spec, [loc.type === 'registry' ? 'ref' : 'src', ...(loc.type === 'local' ? ['tag'] : []), 'mounts'], flag);
  return { location: loc, mounts: bool(spec.attrs, 'mounts', flag, true) };
}

export function describeLocation(loc: CacheLocation): string {
  return loc.type === 'registry' ? loc.ref : `${loc.dir}${loc.tag !== DEFAULT_TAG ? ` (tag ${loc.tag})` : ''}`;
}
