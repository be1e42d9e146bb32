// User-facing errors of the progress output (a bad --progress value).
export type ProgressErrorCode = 'INVALID_PROGRESS_MODE';

export class ProgressError extends Error {
  readonly userError = true;

  constructor(
    readonly code: ProgressErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
