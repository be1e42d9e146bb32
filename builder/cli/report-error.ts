// How errors reach the user: user mistakes as one clear message (plus the
// Dockerfile line when there is one), bugs in tsbuild with their stack.

export interface UserFacingError extends Error {
  userError: true;
  code?: string;
  // Set by Dockerfile errors: renders `Dockerfile:LINE:COL: message` and the source line.
  format?: () => string;
}

export function isUserError(err: unknown): err is UserFacingError {
  return typeof err === 'object' && err !== null && (err as { userError?: unknown }).userError === true;
}

export function reportError(err: unknown): number {
  if (isUserError(err)) {
    const text = err.format ? err.format() : err.message;
    process.stderr.write(`ERROR: ${text}\n`);
    return 1;
  }
  process.stderr.write(`tsbuild: internal error (this is a bug in tsbuild):\n${(err as Error)?.stack ?? String(err)}\n`);
  return 2;
}
