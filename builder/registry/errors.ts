// User-facing errors of the registry client. Each names the registry and,
// when there is one, the image reference, so the CLI's one line is enough
// to act on ("which registry? which image?").

export type RegistryErrorCode =
  | 'REGISTRY_UNREACHABLE'
  | 'REGISTRY_UNAUTHORIZED'
  | 'REGISTRY_DENIED'
  | 'MANIFEST_UNKNOWN'
  | 'BLOB_UNKNOWN'
  | 'REGISTRY_DIGEST_MISMATCH'
  | 'REGISTRY_ERROR'
  | 'REGISTRY_PROTOCOL'
  | 'NO_MATCHING_PLATFORM'
  | 'UNSUPPORTED_MANIFEST'
  | 'CREDENTIAL_HELPER'
  | 'DOCKER_CONFIG'
  | 'REGISTRY_SETTINGS'
  | 'REGISTRY_STALLED';

export class RegistryError extends Error {
  readonly userError = true;

  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A failure worth trying again (5xx, 429, dropped connection, truncated
 * body). Never shown to the user as is: when retries run out it becomes a
 * RegistryError through `describeFailure`.
 */
export class TransientError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
