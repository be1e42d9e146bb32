/**
 * Reading ignore files: `.dockerignore` at the context root, or the
 * Dockerfile-specific `<Dockerfile>.dockerignore` next to the Dockerfile,
 * which wins when present (BuildKit rule).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { goClean } from './pattern.js';

const UTF8_BOM = '\uFEFF';

/**
 * Parse ignore-file text into patterns, like moby's ignorefile.ReadAll:
 * lines starting with `#` are comments (only at column 0), lines are trimmed,
 * blank lines dropped, patterns cleaned and made relative (a leading `/` is
 * removed). `!` exceptions keep their `!`.
 */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (i === 0 && line.startsWith(UTF8_BOM)) line = line.slice(1);
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
  }
  return out;
}

export interface IgnoreFile {
  /** Host path of the ignore file that was used, or null when none exists. */
  readonly file: string | null;
  readonly patterns: string[];
}

/** The ignore files a build may read, the one that wins first. */
export function ignoreFileCandidates(contextDir: string, dockerfilePath?: string): string[] {
  const candidates: string[] = [];
  if (dockerfilePath) candidates.push(`${path.resolve(dockerfilePath)}.dockerignore`);
  candidates.push(path.join(path.resolve(contextDir), '.dockerignore'));
  return candidates;
}

/**
 * Find and parse the ignore file for a build.
 * @param contextDir host path of the build context
 * @param dockerfilePath host path of the Dockerfile (absolute, or relative to
 *        the current directory), when known
 */
// Synchronous: a missing candidate is one failed open, a present one a few
// hundred bytes, where the threadpool's round trips (four for a read) cost
// each opening of a context (a build, and the memo's walk and second solve
// after it) most of a millisecond.
export async function loadIgnoreFile(contextDir: string, dockerfilePath?: string): Promise<IgnoreFile> {
  for (const file of ignoreFileCandidates(contextDir, dockerfilePath)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (isMissing(err)) continue;
      throw err;
    }
    return { file, patterns: parseIgnoreFile(text) };
  }
  return { file: null, patterns: [] };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
