// Streaming digests of layer blobs: the blob digest (as stored) and the
// diff_id (sha256 of the uncompressed tar) in one pass, without buffering.

import { createHash } from '../../runner-native/native-crypto.js';
import { promises as fs } from 'node:fs';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from '../../cache/lazy-zlib.js';
import type { Digest } from '../../cache/digest.js';
import { toDigest } from '../../cache/digest.js';
import { HashingTap } from '../../cache/hashing-tap.js';
import type { LayerCompression } from './types.js';
import { ImageError } from './errors.js';
import { hashAndCheckSink } from './layer-check.js';
import type { LayerEntry } from './layer-stack-check.js';

export interface LayerDigests {
  /** sha256 of the bytes as given (compressed or not). */
  digest: Digest;
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
}

/** Compression from a blob's first bytes (gzip and zstd magic numbers). */
export function sniffCompression(head: Buffer): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'uncompressed';
}

/** sniffCompression of a file's first bytes. */
export async function sniffFileCompression(file: string): Promise<LayerCompression> {
  const fh = await fs.open(file, 'r');
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  return sniffCompression(head);
}

function hashSink(hash: ReturnType<typeof createHash>): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb();
    },
  });
}

export interface DigestLayerOptions {
  /** Also refuse entries that escape the root (see layer-check.ts); for layers from outside. */
  checkEntries?: boolean;
  /** Implies checkEntries: every entry's name, type and link, for the whole-image check. */
  entries?: LayerEntry[];
}

/** Hash a layer stream given how it is compressed (see `sniffCompression`). */
export async function digestLayer(src: Readable | NodeJS.ReadableStream, compression: LayerCompression, opts: DigestLayerOptions = {}): Promise<LayerDigests> {
  if (compression === 'zstd') {
    throw new ImageError('UNSUPPORTED_MEDIA_TYPE', 'zstd-compressed layers are not supported by this Node.js version');
  }
  const tap = new HashingTap();
  if (compression === 'gzip') {
    const diffHash = createHash('sha256');
    try {
      await pipeline(src, tap, createGunzip(), opts.checkEntries || opts.entries ? hashAndCheckSink(diffHash, opts.entries) : hashSink(diffHash));
    } catch (e) {
      // zlib errors ("unexpected end of file", "incorrect header check") are the input's fault.
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && code.startsWith('Z_')) throw new ImageError('INVALID_ARCHIVE', `layer is not valid gzip: ${(e as Error).message}`);
      throw e;
    }
    return { digest: toDigest(`sha256:${tap.hex()}`), size: tap.size, diffId: toDigest(`sha256:${diffHash.digest('hex')}`) };
  }
  // Uncompressed: the blob is the tar, so one hash serves as both digests.
  const discard = new Writable({ write: (_chunk, _enc, cb) => cb() });
  await pipeline(src, tap, opts.checkEntries || opts.entries ? hashAndCheckSink(createHash('sha256'), opts.entries) : discard);
  const digest = toDigest(`sha256:${tap.hex()}`);
  return { digest, size: tap.size, diffId: digest };
}
