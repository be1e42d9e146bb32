// User-facing errors of running a step.

/** A RUN step that failed, or may not run (a missing entitlement). */
export class RunFailedError extends Error {
  readonly userError = true;
  readonly code = 'RUN_FAILED';
}

/** A RUN --mount that cannot be provided (missing secret, source, agent socket). */
export class MountError extends Error {
  readonly userError = true;
  constructor(readonly code: string, message: string) { super(message); }
}
