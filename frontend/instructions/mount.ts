/**
 * `RUN --mount=...` values, with BuildKit's rules (instructions/
 * commands_runmount.go): CSV fields, `key=value` options per mount type,
 * read-only defaults, and the cross-field checks (mode/uid/gid only for
 * cache/secret/ssh, sharing only for cache, ...).
 *
 * Values may hold build variables. Without an expander, fields whose value
 * contains `$` are left for later and the checks that depend on them are
 * skipped (`needsExpansion`); the graph builder calls parseMount again with
 * the expander, which validates everything.
 */
import { CsvError, splitCsvRecord } from './csv.js';
import type { CacheSharing, MountType, RunMount } from './types.js';
import { hasVariable, parseOctal, parseRamSize, parseUint32, ValueError } from './values.js';
import { suggest } from './context.js';

export class MountError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING_MODES: readonly CacheSharing[] = ['shared', 'private', 'locked'];
const ALL_KEYS = [
  'type', 'from', 'source', 'src', 'target', 'dst', 'destination', 'readonly', 'ro', 'readwrite', 'rw',
  'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'env',
];

function parseBool(key: string, value: string): boolean {
  // Go's strconv.ParseBool
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new MountError('BAD_FLAG_VALUE', `invalid value for ${key}: ${value}`);
}

function numeric(key: string, parse: () => number): number {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ValueError) throw new MountError('BAD_FLAG_VALUE', `invalid value for ${key} in --mount: ${e.message}`);
    throw e;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function parseMount(raw: string, expand?: (word: string) => string): RunMount {
  let fields: string[];
  try {
    fields = splitCsvRecord(raw);
  } catch (e) {
    if (e instanceof CsvError) throw new MountError('BAD_FLAG_VALUE', `failed to parse csv mounts: ${e.message}`);
    throw e;
  }
  const m: Mutable<RunMount> = { raw, needsExpansion: false, type: 'bind', readOnly: true, required: false };
  let readOnlyExplicit = false;
  let typeKnown = true;

  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      switch (key) {
        case 'readonly':
        case 'ro':
          m.readOnly = true;
          readOnlyExplicit = true;
          continue;
        case 'readwrite':
        case 'rw':
          m.readOnly = false;
          readOnlyExplicit = true;
          continue;
        case 'required':
          if (typeKnown && m.type !== 'secret' && m.type !== 'ssh') {
            throw new MountError('BAD_FLAG_VALUE', `unexpected key '${key}' for mount type '${m.type}'`);
          }
          m.required = true;
          continue;
        default:
          throw new MountError('BAD_FLAG_VALUE', `invalid field '${field}' must be a key=value pair`);
      }
    }
    let value = field.slice(eq + 1);
    if (key === 'from' && !expand) {
      const dollar = value.indexOf('$');
      if (dollar >= 0 && dollar !== value.length - 1) {
        throw new MountError('BAD_FLAG_VALUE', `'${key}' doesn't support variable expansion, define alias stage instead`);
      }
    }
    if (expand) {
      value = expand(value);
    } else if (hasVariable(value) && key !== 'from') {
      m.needsExpansion = true;
      if (key === 'type') typeKnown = false;
      if (!ALL_KEYS.includes(key)) throw unknownKey(key, field);
      continue;
    }
    switch (key) {
      case 'type': {
        const type = value.toLowerCase() as MountType;
        if (!MOUNT_TYPES.includes(type)) {
          const hint = suggest(value, MOUNT_TYPES);
          throw new MountError('BAD_FLAG_VALUE', `unsupported mount type ${JSON.stringify(value)}${hint ? ` (did you mean ${hint}?)` : ''}`);
        }
        m.type = type;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = parseBool(key, value);
        readOnlyExplicit = true;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !parseBool(key, value);
        readOnlyExplicit = true;
        break;
      case 'required':
        if (typeKnown && m.type !== 'secret' && m.type !== 'ssh') {
          throw new MountError('BAD_FLAG_VALUE', `unexpected key '${key}' for mount type '${m.type}'`);
        }
        m.required = parseBool(key, value);
        break;
      case 'size':
        if (typeKnown && m.type !== 'tmpfs') throw new MountError('BAD_FLAG_VALUE', `unexpected key '${key}' for mount type '${m.type}'`);
        m.sizeLimit = numeric(key, () => parseRamSize(value));
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        const sharing = value.toLowerCase() as CacheSharing;
        if (!SHARING_MODES.includes(sharing)) {
          throw new MountError('BAD_FLAG_VALUE', `unsupported sharing value ${JSON.stringify(value)} (expected shared, private or locked)`);
        }
        m.sharing = sharing;
        break;
      }
      case 'mode':
        m.mode = numeric(key, () => parseOctal(value));
        break;
      case 'uid':
        m.uid = numeric(key, () => parseUint32(value));
        break;
      case 'gid':
        m.gid = numeric(key, () => parseUint32(value));
        break;
      case 'env':
        m.env = value;
        break;
      default:
        throw unknownKey(key, field);
    }
  }

  if (!readOnlyExplicit) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  // The remaining checks need the final type and field values.
  if (!m.needsExpansion) checkMountConsistency(m);
  return m;
}

function unknownKey(key: string, field: string): MountError {
  const hint = suggest(key, ALL_KEYS);
  return new MountError('BAD_FLAG_VALUE', `unexpected key '${key}' in '${field}'${hint ? ` (did you mean ${hint}?)` : ''}`);
}

function checkMountConsistency(m: RunMount): void {
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfoAllowed) {
    for (const [name, value] of [['mode', m.mode], ['uid', m.uid], ['gid', m.gid]] as const) {
      if (value !== undefined) throw new MountError('BAD_FLAG_VALUE', `${name} not allowed for "${m.type}" type mounts`);
    }
  }
  if (m.type === 'secret') {
    if (m.from !== undefined) throw new MountError('BAD_FLAG_VALUE', 'secret mount should not have a from');
    if (m.sharing !== undefined) throw new MountError('BAD_FLAG_VALUE', 'secret mount should not define sharing');
    if (!m.source && !m.target && !m.id) {
      throw new MountError('BAD_FLAG_VALUE', 'invalid secret mount. one of source, target required');
    }
    if (m.source && m.id) throw new MountError('BAD_FLAG_VALUE', "both source and id can't be set");
  }
  if (m.sharing !== undefined && m.type !== 'cache') {
    throw new MountError('BAD_FLAG_VALUE', `invalid cache sharing set for ${m.type} mount`);
  }
  if ((m.type === 'bind' || m.type === 'cache' || m.type === 'tmpfs') && !m.target) {
    throw new MountError('MISSING_ARGUMENT', `--mount type=${m.type} requires a target`);
  }
}
