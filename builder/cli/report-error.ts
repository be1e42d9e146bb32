// How errors reach the user: user mistakes as one clear message (plus the
// Dockerfile line when there is one), bugs in tsbuild with their stack.

export interface UserFacingError extends Error {
  userError: true;
  code?: string;
}

export function isUserError(err: unknown): err is UserFacingError {
  return typeof err === 'object' && err !== null && (err as { userError?: unknown }).userError === true;
}

// A solver failure wraps the step's own error; the user wants to see the latter.
export function unwrap(err: unknown): unknown {
  let e = err as { cause?: unknown; vertex?: unknown };
  while (e && typeof e === 'object' && e.vertex !== undefined && e.cause !== undefined && !isUserError(e)) e = e.cause as typeof e;
  return e;
}

// Any user error that knows its Dockerfile line (a parse error, or a step
// that failed while running) prints `Dockerfile:LINE` and the line.
export async function formatUserError(err: UserFacingError): Promise<string> {
  if ((err as { location?: unknown }).location !== undefined) {
    const { formatDockerfileError } = await import('../../frontend/errors.js');
    return formatDockerfileError(err as Parameters<typeof formatDockerfileError>[0]);
  }
  return err.message;
}

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
