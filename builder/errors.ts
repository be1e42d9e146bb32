// Errors any part of builder/ may raise for the user (a bad flag value, a
// canceled build). They live here, not in the CLI, because a build is a
// library call first: the CLI is only one of its callers. Like every
// user error they set `userError` and a stable `code`; the caller prints
// the message on one line.

/** A bad option value or a missing required option: the caller's mistake. */
export class UsageError extends Error {
  readonly userError = true;
  readonly code = 'USAGE';
}

/** The build's AbortSignal fired (Ctrl-C in the CLI, a client gone in a server). */
export class BuildCanceledError extends Error {
  readonly userError = true;
  readonly code = 'CANCELED';
}

// What a caller (the CLI, a build server) needs to show any error as one
// clear message.
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
    const { formatDockerfileError } = await import('../frontend/errors.js');
    return formatDockerfileError(err as Parameters<typeof formatDockerfileError>[0]);
  }
  return err.message;
}

/** Where in the Dockerfile an error applies (set on user errors by the frontend and the steps). */
export interface ErrorLocation {
  line: number;
  endLine?: number;
}

export function locationOf(err: unknown): ErrorLocation | undefined {
  const loc = (err as { location?: { line?: unknown; endLine?: unknown } } | null)?.location;
  if (!loc || typeof loc.line !== 'number') return undefined;
  return typeof loc.endLine === 'number' ? { line: loc.line, endLine: loc.endLine } : { line: loc.line };
}

/**
 * A failure located in the Dockerfile as buildx prints it: the lines around
 * the instruction, then `ERROR: Dockerfile:LINE: message`. Undefined when
 * the location is not within `source` (then print the one-line error).
 */
export async function formatWithExcerpt(message: string, loc: ErrorLocation, source: { file: string; text: string }): Promise<string | undefined> {
  const { formatSourceExcerpt } = await import('../frontend/errors.js');
  const excerpt = formatSourceExcerpt(source.text, source.file, loc.line, loc.endLine);
  return excerpt ? `${excerpt}\nERROR: ${source.file}:${loc.line}: ${message}\n` : undefined;
}
