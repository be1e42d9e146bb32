// POSIX path arithmetic for paths inside the image (never host paths).
import { DockerfileError } from '../errors.js';

/** path.Clean for `/`-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const absolute = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (absolute) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

export function joinPath(...parts: string[]): string {
  return cleanPath(parts.filter((p) => p !== '').join('/'));
}

/** system.NormalizeWorkdir: a relative WORKDIR is relative to the current one. */
export function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') throw new DockerfileError('BAD_WORKDIR', 'normalizing workdir: cannot normalize nothing');
  if (!requested.startsWith('/')) return joinPath('/', current, requested);
  return cleanPath(requested);
}

/**
 * BuildKit's pathRelativeToWorkingDir for COPY/ADD destinations: resolved
 * against WORKDIR, and a trailing `/` (or `.`) kept because it means "into
 * this directory".
 */
export function resolveDestination(workdir: string, dest: string): string {
  const relative = dest === '.' || dest === '' ? './' : dest;
  let out = relative.startsWith('/') ? cleanPath(relative) : joinPath('/', workdir, relative);
  const keepSlash = relative.endsWith('/') || relative.endsWith('/.') || relative === '.';
  if (keepSlash && !out.endsWith('/')) out += '/';
  return out;
}
