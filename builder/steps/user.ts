// USER semantics for RUN and `tsbuild run`, as Docker (runc's libuser)
// resolves them inside the image: `name`, `uid`, `name:group`, `uid:gid`;
// the primary gid from /etc/passwd, supplementary groups from /etc/group.
// The image's files are read through the in-root resolver (a mounted
// root) or straight from its layers' snapshots (no mount), so a symlinked
// /etc/passwd cannot point at the host's.
import { readFile } from 'node:fs/promises';
import { resolveInRoot } from '../fileops/resolve.js';
import { readFileInLowers } from '../snapshots/lower-lookup.js';

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

export class UnknownUserError extends Error {
  readonly userError = true;
  readonly code = 'UNKNOWN_USER';
}

// Reads an image file's text, or null when the image has none.
type ImageFileReader = (file: string) => Promise<string | null>;

function mountedRoot(root: string): ImageFileReader {
  return async (file) => {
    const r = await resolveInRoot(root, file);
    return r.exists ? readFile(r.host, 'utf8') : null;
  };
}

function layerStack(lowerDirs: string[]): ImageFileReader {
  return async (file) => (await readFileInLowers(lowerDirs, file))?.toString('utf8') ?? null;
}

async function readDb(read: ImageFileReader, file: string): Promise<string[][]> {
  try {
    const text = await read(file);
    if (text === null) return [];
    return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

const isNumeric = (s: string) => /^\d+$/.test(s);

/** `spec` looked up in a mounted root's files. */
export function resolveProcessUser(root: string, spec: string): Promise<ProcessUser> {
  return resolveUserWith(mountedRoot(root), spec);
}

/** `spec` looked up in the files of a stack of layer snapshots (topmost first), without mounting them. */
export function resolveUserInLayers(lowerDirs: string[], spec: string): Promise<ProcessUser> {
  return resolveUserWith(layerStack(lowerDirs), spec);
}

async function resolveUserWith(read: ImageFileReader, spec: string): Promise<ProcessUser> {
  // No USER is uid 0, looked up by id (runc's default), so root's groups apply too.
  const [userPart, groupPart] = spec === '' ? ['0', undefined] : spec.split(':', 2) as [string, string | undefined];
  const passwd = await readDb(read, '/etc/passwd');
  const groups = await readDb(read, '/etc/group');
  const entry = isNumeric(userPart) ? passwd.find((e) => e[2] === userPart) : passwd.find((e) => e[0] === userPart);
  if (!entry && !isNumeric(userPart)) {
    throw new UnknownUserError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = Number(entry ? entry[2] : userPart);
  let gid = entry ? Number(entry[3]) : 0;
  if (groupPart !== undefined && groupPart !== '') {
    if (isNumeric(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((e) => e[0] === groupPart);
      if (!g) throw new UnknownUserError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(g[2]);
    }
  }
  // Supplementary groups only when the group was not given explicitly, as
  // runc's GetExecUser: every group listing the user, the primary one too
  // (`id` prints what getgroups returns, so busybox shows it).
  const name = entry?.[0];
  const additionalGids = groupPart === undefined && name
    ? groups.filter((g) => (g[3] ?? '').split(',').includes(name)).map((g) => Number(g[2]))
    : [];
  return { uid, gid, additionalGids, home: entry?.[5] || '/' };
}
