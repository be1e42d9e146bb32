// Layer compression options of the exporters (`compression`,
// `compression-level`, `force-compression`), checked without loading any
// compressor: outputs are resolved before the build, on every build.
import { ImageError } from './errors.js';
import type { LayerCompression } from './types.js';

export interface CompressionOptions {
  /** Layer compression in the output; default gzip (what registries and BuildKit use). */
  compression?: 'gzip' | 'uncompressed' | 'zstd';
  /** gzip level 0-9 (default 6, zlib's); zstd 1-22 (default 3, BuildKit's). */
  compressionLevel?: number;
  /**
   * Also convert layers that are already compressed another way (a gzip
   * base image layer when zstd is asked). Without it they stay as they
   * are, as BuildKit's force-compression=false.
   */
  forceCompression?: boolean;
  /** Directory remembering converted layers (e.g. `ImageStore.layerMemoDir`); none means convert every time. */
  memoDir?: string;
  /** Layers converted at once; default: the number of CPUs. */
  concurrency?: number;
}

const DEFAULT_GZIP_LEVEL = 6;
/** BuildKit's default zstd level. */
export const DEFAULT_ZSTD_LEVEL = 3;

export function parseCompressionOptions(opts: CompressionOptions): { compression: LayerCompression; level: number } {
  const compression = opts.compression ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'uncompressed' && compression !== 'zstd') {
    throw new ImageError('INVALID_EXPORT_OPTION', `unsupported compression ${JSON.stringify(compression)} (use gzip, zstd or uncompressed)`);
  }
  const [low, high] = compression === 'zstd' ? [1, 22] : [0, 9];
  const level = opts.compressionLevel ?? (compression === 'zstd' ? DEFAULT_ZSTD_LEVEL : DEFAULT_GZIP_LEVEL);
  if (!Number.isInteger(level) || level < low || level > high) {
    throw new ImageError('INVALID_EXPORT_OPTION', `compression-level must be an integer from ${low} to ${high} for ${compression}, got ${String(opts.compressionLevel)}`);
  }
  return { compression, level };
}

