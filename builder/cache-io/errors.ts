// User-facing errors of build cache export/import. Import problems are
// normally turned into warnings (a build without its cache still works, as
// with BuildKit); an export that fails fails the build, unless the user
// said `ignore-error=true`.
export type CacheIOErrorCode = 'CACHE_EXPORT_FAILED' | 'CACHE_LAYER_UNAVAILABLE';

export class CacheIOError extends Error {
  readonly userError = true;
  constructor(readonly code: CacheIOErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheIOError';
  }
}

// A one-line reason from any error, for wrapping in our own message.
export function reasonOf(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).replace(/\s*\n\s*/g, ' ').trim();
}
