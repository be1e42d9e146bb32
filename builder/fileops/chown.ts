/**
 * `--chown=user[:group]`: numeric ids or names. Names are looked up in the
 * DESTINATION rootfs's /etc/passwd and /etc/group, read through the in-root
 * resolver so a hostile /etc symlink in the image cannot make us read host
 * files. A user alone sets the group to the user's primary group (by name) or
 * to the same number (by id), as BuildKit does.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { InvalidChownError, UnknownUserError } from './errors.js';
import { resolveInRoot } from './resolve.js';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

type IdSpec = { readonly id: number } | { readonly name: string };

export interface ChownSpec {
  readonly text: string;
  readonly user: IdSpec;
  readonly group?: IdSpec;
}

/** Same limit as BuildKit: user databases above 10 MiB are refused. */
const MAX_USER_FILE_BYTES = 10 << 20;

export function parseChown(text: string): ChownSpec {
  const colon = text.indexOf(':');
  const userPart = colon < 0 ? text : text.slice(0, colon);
  const groupPart = colon < 0 ? undefined : text.slice(colon + 1);
  if (userPart === '') throw new InvalidChownError(text, 'missing user');
  if (groupPart === '') throw new InvalidChownError(text, 'missing group after ":"');
  const spec: ChownSpec = { text, user: parseIdSpec(userPart, text) };
  return groupPart === undefined ? spec : { ...spec, group: parseIdSpec(groupPart, text) };
}

function parseIdSpec(part: string, text: string): IdSpec {
  // "root" is 0 without a lookup, so scratch images can still use it.
  if (part === 'root') return { id: 0 };
  if (/^\d+$/.test(part)) {
    const id = Number(part);
    if (id > 0x7fffffff) throw new InvalidChownError(text, `id ${part} is out of range`);
    return { id };
  }
  if (/[\s:/]/.test(part)) throw new InvalidChownError(text, `${JSON.stringify(part)} is not a valid name`);
  return { name: part };
}

export async function resolveChown(destRoot: string, spec: ChownSpec): Promise<Owner> {
  let uid: number;
  let gid: number;
  if ('id' in spec.user) {
    uid = gid = spec.user.id;
  } else {
    const entry = await findEntry(destRoot, '/etc/passwd', spec.user.name);
    if (!entry) throw new UnknownUserError('user', spec.user.name, '/etc/passwd');
    uid = parseId(entry[2]);
    gid = parseId(entry[3]);
  }
  if (spec.group) {
    if ('id' in spec.group) {
      gid = spec.group.id;
    } else {
      const entry = await findEntry(destRoot, '/etc/group', spec.group.name);
      if (!entry) throw new UnknownUserError('group', spec.group.name, '/etc/group');
      gid = parseId(entry[2]);
    }
  }
  return { uid, gid };
}

function parseId(field: string | undefined): number {
  const n = Number(field);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** The `:`-split fields of the first line whose name is `name`, or null. */
async function findEntry(root: string, file: string, name: string): Promise<string[] | null> {
  const text = await readUserFile(root, file);
  if (text === null) return null;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(':');
    if (fields[0] === name && fields.length >= 3) return fields;
  }
  return null;
}

async function readUserFile(root: string, file: string): Promise<string | null> {
  const resolved = await resolveInRoot(root, file);
  if (!resolved.exists) return null;
  // A few KB, read synchronously: its four threadpool round trips (open,
  // stat, read, close) per file sat on the COPY's critical path. Non-blocking:
  // a FIFO put there by the image must not hold this thread.
  const fd = openSync(resolved.host, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    if (st.size > MAX_USER_FILE_BYTES) throw new InvalidChownError(file, `${file} exceeds ${MAX_USER_FILE_BYTES} bytes`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
