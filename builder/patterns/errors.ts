/** A .dockerignore (or --exclude) pattern that cannot be compiled, e.g. a lone `!`. */
export class InvalidPatternError extends Error {
  readonly userError = true;
  readonly code = 'INVALID_IGNORE_PATTERN';
  constructor(pattern: string, reason: string) {
    super(`invalid pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'ContextError';
  }
}
