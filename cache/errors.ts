/**
 * User-facing errors of the cache/ layer (content store, layers, snapshots).
 * The CLI prints `message` on one line and exits non-zero; anything else
 * thrown from here is a bug in tsbuild.
 */
export type CacheErrorCode =
  | 'INVALID_DIGEST'
  | 'DIGEST_MISMATCH'
  | 'CORRUPT_BLOB'
  | 'BLOB_NOT_FOUND'
  | 'CORRUPT_TAR'
  | 'UNSAFE_TAR_ENTRY'
  | 'UNSUPPORTED_COMPRESSION'
  | 'UNSUPPORTED_FILE'
  | 'XATTR_FAILED'
  | 'SPECIAL_FILE_FAILED';

export class CacheError extends Error {
  readonly userError = true;
  constructor(readonly code: CacheErrorCode, message: string) {
    super(message);
    this.name = 'CacheError';
  }
}

/** Shorthand used by the tar reader/applier so messages stay uniform. */
export function corruptTar(detail: string): CacheError {
  return new CacheError('CORRUPT_TAR', `corrupt layer tar: ${oneLine(detail)}`);
}

export function unsafeEntry(name: string, why: string): CacheError {
  return new CacheError('UNSAFE_TAR_ENTRY', `refusing unsafe layer tar entry ${JSON.stringify(name)}: ${why}`);
}

export function isCacheError(e: unknown, code?: CacheErrorCode): e is CacheError {
  return e instanceof CacheError && (code === undefined || e.code === code);
}

/** Messages must stay on one line for the CLI. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
