// User-facing errors of the sandbox. The CLI prints `message` on one line;
// `code` is stable so callers and tests can branch on it.

export class SandboxError extends Error {
  readonly userError = true;
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'SandboxError';
  }
}

/** The spec asks for something the sandbox cannot express (bad path, unknown option, ...). */
export class SandboxSpecError extends SandboxError {
  constructor(message: string) {
    super('SANDBOX_SPEC_INVALID', `invalid sandbox spec: ${message}`);
  }
}

/** This machine cannot run sandboxes (not root, no helper binary, no overlayfs, ...). */
export class SandboxUnavailableError extends SandboxError {
  constructor(message: string) {
    super('SANDBOX_UNAVAILABLE', `sandbox unavailable: ${message}`);
  }
}

/** Namespaces, mounts or the user switch failed before the command ran. */
export class SandboxSetupError extends SandboxError {
  constructor(message: string) {
    super('SANDBOX_SETUP_FAILED', `sandbox setup failed: ${message}`);
  }
}

/** The command (args[0]) does not exist in the sandbox's PATH. */
export class SandboxExecNotFoundError extends SandboxError {
  constructor(message: string) {
    super('SANDBOX_EXEC_NOT_FOUND', message);
  }
}

/** The run took longer than `timeoutMs`; the whole process tree was killed. */
export class SandboxTimeoutError extends SandboxError {
  constructor(readonly timeoutMs: number) {
    super('SANDBOX_TIMEOUT', `command timed out after ${timeoutMs} ms and was killed`);
  }
}

/** The caller's AbortSignal fired; the whole process tree was killed. Named like Node's own AbortError. */
export class SandboxAbortedError extends SandboxError {
  constructor(reason: unknown) {
    super('ABORT_ERR', 'the command was aborted and killed');
    this.name = 'AbortError';
    this.cause = reason;
  }
}
