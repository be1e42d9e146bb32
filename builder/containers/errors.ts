// User-facing errors of `tsbuild run/ps/logs/stop/rm`. The CLI prints the
// message on one line; `code` is stable so tests and callers can branch.

export type ContainerErrorCode =
  | 'INVALID_RUN_OPTION'
  | 'NO_COMMAND'
  | 'NO_SUCH_CONTAINER'
  | 'AMBIGUOUS_CONTAINER'
  | 'NAME_IN_USE'
  | 'INVALID_NAME'
  | 'CONTAINER_RUNNING'
  | 'START_FAILED'
  | 'CONTAINER_NOT_RUNNING'
  | 'NO_SUCH_VOLUME'
  | 'NO_SUCH_IMAGE'
  | 'VOLUME_IN_USE'
  | 'UNSUPPORTED';

export class ContainerError extends Error {
  readonly userError = true;

  constructor(readonly code: ContainerErrorCode, message: string) {
    super(message);
    this.name = 'ContainerError';
  }
}
