// User-facing errors of the image layer (store, references, archives).
// Each sets `userError = true` and a stable `code`, so the CLI prints one
// line instead of a stack trace.

export type ImageErrorCode =
  | 'INVALID_REFERENCE'
  | 'IMAGE_NOT_FOUND'
  | 'AMBIGUOUS_IMAGE_ID'
  | 'IMAGE_IN_USE'
  | 'INVALID_IMAGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INVALID_ARCHIVE'
  | 'UNSAFE_ARCHIVE_PATH'
  | 'UNSAFE_LAYER'
  | 'DIGEST_MISMATCH'
  | 'LOCK_TIMEOUT'
  | 'INVALID_EXPORT_OPTION'
  | 'ZSTD_MISSING'
  | 'ZSTD_FAILED'
  | 'UNSUPPORTED_INDEX_VERSION';

export class ImageError extends Error {
  readonly userError = true;

  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
