// How errors reach the user: user mistakes as one clear message (plus the
// Dockerfile line when there is one), bugs in tsbuild with their stack.

import { formatUserError, formatWithExcerpt, isUserError, locationOf, unwrap } from '../errors.js';

export { formatUserError, isUserError, unwrap, type UserFacingError } from '../errors.js';

/** The Dockerfile a build read, so errors located in it can show an excerpt. */
export interface ErrorSource {
  file: string;
  text: string;
}

// Failures of the machine or of a path the user named (a full disk, a
// read-only or missing directory, no permission) are not bugs in tsbuild:
// one line naming the path, as the user gave it (not our temp file's name).
const ENVIRONMENT_ERRNOS: Record<string, string> = {
  ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system',
  EACCES: 'permission denied', EPERM: 'operation not permitted', ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory', EISDIR: 'is a directory', EMFILE: 'too many open files',
};

export function describeSystemError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'string') return undefined;
  const reason = ENVIRONMENT_ERRNOS[e.code];
  if (!reason) return undefined;
  if (e.code !== 'ENOSPC' && e.code !== 'EDQUOT' && e.code !== 'EMFILE' && !e.path) return undefined;
  const shown = e.path?.replace(/\/\.tmp-(.+)-\d+-[0-9a-f]{12}$/, '/$1');
  return shown ? `${e.syscall ?? 'access'} ${shown}: ${reason}` : reason;
}

export async function reportError(error: unknown, source?: ErrorSource): Promise<number> {
  const err = unwrap(error);
  const system = describeSystemError(err);
  if (system) {
    process.stderr.write(`ERROR: ${system}\n`);
    return 1;
  }
  if (isUserError(err)) {
    const loc = locationOf(err);
    // As buildx: the lines around the failing instruction, then the error.
    const excerpt = source && loc ? await formatWithExcerpt(err.message, loc, source) : undefined;
    if (excerpt) {
      process.stderr.write(excerpt);
      return 1;
    }
    process.stderr.write(`ERROR: ${await formatUserError(err)}\n`);
    return 1;
  }
  process.stderr.write(`tsbuild: internal error (this is a bug in tsbuild):\n${(err as Error)?.stack ?? String(err)}\n`);
  return 2;
}
