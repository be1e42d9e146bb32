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
