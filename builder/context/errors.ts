/**
 * User-facing errors about the build context. Each has a stable `code` and a
 * one-line message; the CLI prints them without a stack trace.
 */
export class ContextError extends Error {
  readonly userError = true;
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ContextError';
  }
}

/** The context directory itself is missing or not a directory. */
export class ContextNotFoundError extends ContextError {
  constructor(dir: string) {
    super('CONTEXT_NOT_FOUND', `build context ${JSON.stringify(dir)} is not a directory`);
  }
}
