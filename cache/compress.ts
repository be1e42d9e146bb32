import { createHash } from '../runner-native/native-crypto.js';
import { createReadStream } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Gzip, createGzip } from 'node:zlib';
import type { ContentStore } from './content-store.js';
import { type Digest, digestFromHex } from './digest.js';

export interface GzipOptions {
  /** zlib level 0-9; default 6, Docker's and BuildKit's default. */
  level?: number;
}

export interface StoredLayer {
  /** Digest of the blob as stored (compressed bytes when compression is gzip). */
  digest: Digest;
  size: number;
  /** Digest of the uncompressed tar (goes in rootfs.diff_ids). */
  diffId: Digest;
  uncompressedSize: number;
  compression: 'gzip' | 'none';
}

/**
 * A gzip stream with fixed settings, so the same tar always gives the same
 * blob: Node writes no file name and a zero mtime in the gzip header. The
 * async zlib API runs on the libuv threadpool, so several layers
 * compressed at once use several cores.
 */
export function createLayerGzip(opts: GzipOptions = {}): Gzip {
  return createGzip({ level: opts.level ?? 6, memLevel: 8, chunkSize: 128 * 1024 });
}

/**
 * Produces a layer straight into the store: `produce` writes an
 * uncompressed tar to the Writable it is given (and ends it), e.g.
 * `(out) => tarFromOverlayUpper(upper, out, opts)`. Nothing touches disk
 * outside the store's temp dir.
 */
export async function writeLayerToStore(
  store: ContentStore,
  produce: (out: Writable) => Promise<{ diffId: Digest; size: number }>,
  opts: GzipOptions & { compress?: boolean } = {},
): Promise<StoredLayer> {
  const compress = opts.compress ?? true;
  const sink = compress ? createLayerGzip(opts) : new PassThrough({ highWaterMark: 1 << 20 });
  const [tar, blob] = await settleBoth(
    produce(sink).catch((e: Error) => {
      sink.destroy(e); // stops the store write, which then removes its temp file
      throw e;
    }),
    consumeInto(store, sink),
  );
  return {
    digest: blob.digest, size: blob.size, diffId: tar.diffId, uncompressedSize: tar.size,
    compression: compress ? 'gzip' : 'none',
  };
}

/** Gzips an uncompressed layer that is already in the store. */
export async function gzipStoredLayer(store: ContentStore, uncompressed: Digest, opts: GzipOptions = {}): Promise<StoredLayer> {
  const uncompressedSize = await store.size(uncompressed);
  const gzip = createLayerGzip(opts);
  const [, blob] = await settleBoth(pipeline(store.openRead(uncompressed), gzip), consumeInto(store, gzip));
  return { digest: blob.digest, size: blob.size, diffId: uncompressed, uncompressedSize, compression: 'gzip' };
}

/** Gzips an uncompressed layer tar file into the store, computing its diffId on the way. */
export async function gzipFileToStore(file: string, store: ContentStore, opts: GzipOptions = {}): Promise<StoredLayer> {
  const gzip = createLayerGzip(opts);
  const hash = createHash('sha256');
  let uncompressedSize = 0;
  const src = createReadStream(file, { highWaterMark: 1 << 20 });
  src.on('data', (b) => {
    hash.update(b);
    uncompressedSize += b.length;
  });
  const [, blob] = await settleBoth(pipeline(src, gzip), consumeInto(store, gzip));
  return {
    digest: blob.digest, size: blob.size, diffId: digestFromHex(hash.digest('hex')), uncompressedSize,
    compression: 'gzip',
  };
}

/**
 * Like Promise.all for two, but waits for both to settle before rejecting,
 * so a failed write has cleaned up its temp file by the time we return.
 */
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/** putStream that also aborts the producer side if the store write fails. */
async function consumeInto(store: ContentStore, stream: Writable & NodeJS.ReadableStream) {
  // A producer failure destroys the stream with its error, possibly before
  // putStream starts reading; the error reaches us through the iteration.
  stream.on('error', () => {});
  try {
    return await store.putStream(stream);
  } catch (e) {
    stream.destroy(e as Error);
    throw e;
  }
}
