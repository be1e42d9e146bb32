// Attribute checks the exporters share.
import { UsageError } from '../errors.js';
import type { CompressionOptions } from '../image/export-prepare.js';
import type { ExportIO, OutputType } from './types.js';
import type { Writable } from 'node:stream';

/** The -t names plus the output's own `name=a,b`. */
export function namesOf(attrs: ReadonlyMap<string, string>, tags: readonly string[]): string[] {
  const extra = attrs.get('name')?.split(',').filter(Boolean) ?? [];
  return [...tags, ...extra];
}

export function compressionOf(attrs: ReadonlyMap<string, string>): CompressionOptions {
  const c = attrs.get('compression');
  if (c !== undefined && c !== 'gzip' && c !== 'uncompressed') throw new UsageError(`unsupported compression "${c}" (gzip or uncompressed)`);
  const level = attrs.get('compression-level');
  return { compression: c as CompressionOptions['compression'], compressionLevel: level === undefined ? undefined : Number(level) };
}

export function destOf(type: OutputType, attrs: ReadonlyMap<string, string>): string {
  const dest = attrs.get('dest');
  if (!dest) throw new UsageError(`--output type=${type} needs dest=<path>`);
  return dest;
}

/** The caller's stream for dest (dest=- above all), else the path itself. */
export async function targetOf(dest: string, kind: 'oci' | 'docker' | 'tar', io: ExportIO): Promise<string | Writable> {
  const stream = await io.openOutput?.(dest, kind);
  if (stream) return stream;
  if (dest === '-') throw new UsageError(`--output type=${kind},dest=-: this caller takes no output stream`);
  return dest;
}
