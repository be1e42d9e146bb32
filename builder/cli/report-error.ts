// How errors reach the user: user mistakes as one clear message (plus the
// Dockerfile line when there is one), bugs in tsbuild with their stack.

import { formatUserError, isUserError, unwrap } from '../errors.js';

export { formatUserError, isUserError, unwrap, type UserFacingError } from '../errors.js';

/** The Dockerfile a build read, so errors located in it can show an excerpt. */
export interface ErrorSource {
  file: string;
  text: string;
}

interface Located {
  location?: { line: number; endLine?: number };
}

export async function reportError(error: unknown, source?: ErrorSource): Promise<number> {
  const err = unwrap(error);
  if (isUserError(err)) {
    const loc = (err as Located).location;
    if (source && loc) {
      // As buildx: the lines around the failing instruction, then the error.
      const { formatSourceExcerpt } = await import('../../frontend/errors.js');
      const excerpt = formatSourceExcerpt(source.text, source.file, loc.line, loc.endLine);
      if (excerpt) {
        process.stderr.write(`${excerpt}\nERROR: ${source.file}:${loc.line}: ${err.message}\n`);
        return 1;
      }
    }
    process.stderr.write(`ERROR: ${await formatUserError(err)}\n`);
    return 1;
  }
  process.stderr.write(`tsbuild: internal error (this is a bug in tsbuild):\n${(err as Error)?.stack ?? String(err)}\n`);
  return 2;
}
