// Attribute checks the exporters share.
import { UsageError } from '../errors.js';
import { parseCompressionOptions, type CompressionOptions } from '../image/compression-options.js';
import type { ExportIO, OutputType } from './types.js';
import type { Writable } from 'node:stream';

/** The -t names plus the output's own `name=a,b`. */
export function namesOf(attrs: ReadonlyMap<string, string>, tags: readonly string[]): string[] {
  const extra = attrs.get('name')?.split(',').filter(Boolean) ?? [];
  return [...tags, ...extra];
}

export function compressionOf(attrs: ReadonlyMap<string, string>): CompressionOptions {
  const c = attrs.get('compression');
  if (c !== undefined && c !== 'gzip' && c !== 'uncompressed' && c !== 'zstd') throw new UsageError(`unsupported compression "${c}" (gzip, zstd or uncompressed)`);
  const level = attrs.get('compression-level');
  const force = attrs.get('force-compression');
  if (force !== undefined && force !== 'true' && force !== 'false') throw new UsageError(`invalid force-compression "${force}" (true or false)`);
  const options: CompressionOptions = { compression: c as CompressionOptions['compression'], compressionLevel: level === undefined ? undefined : Number(level), forceCompression: force === 'true' };
  // Checked now, before the build: a typo in -o must not cost a build.
  try {
    parseCompressionOptions(options);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return options;
}

/** BuildKit's rewrite-timestamp: accepted; with SOURCE_DATE_EPOCH tsbuild always clamps the timestamps in the layers it makes. */
export function checkRewriteTimestamp(attrs: ReadonlyMap<string, string>): void {
  const v = attrs.get('rewrite-timestamp');
  if (v !== undefined && v !== 'true' && v !== 'false') throw new UsageError(`invalid rewrite-timestamp "${v}" (true or false)`);
}

/** `dest`, or `-` (stdout) when it is left out, as buildx does for tar-like outputs. */
export function destOf(type: OutputType, attrs: ReadonlyMap<string, string>): string {
  const dest = attrs.get('dest');
  if (dest === '') throw new UsageError(`--output type=${type}: dest is empty`);
  return dest ?? '-';
}

/** The caller's stream for dest (dest=- above all), else the path itself. */
export async function targetOf(dest: string, kind: 'oci' | 'docker' | 'tar', io: ExportIO): Promise<string | Writable> {
  const stream = await io.openOutput?.(dest, kind);
  if (stream) return stream;
  if (dest === '-') throw new UsageError(`--output type=${kind},dest=-: this caller takes no output stream`);
  return dest;
}
