// Putting layer blobs into the content store while learning their diff_id.

import { createReadStream, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import type { AddedBlobs } from './added-blobs.js';
import type { LayerEntry } from './layer-stack-check.js';
import { ImageError } from './errors.js';
import { digestLayer, sniffCompression } from './layer-digest.js';
import type { ImageLayer, LayerCompression } from './types.js';
import { ociLayerMediaType } from './types.js';

async function fileHead(file: string, bytes = 8): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Store the blob `open()` yields (it is opened twice: once to store, once to
 * hash the uncompressed tar) and describe it as a layer. `expected` pins the
 * blob digest when a manifest already names it; `added` learns whether the
 * blob is new; `entries` collects the tar's entries for the whole-image check. Every entry is checked for
 * path escapes while hashing; a refused layer's blob stays in the store
 * unreferenced, for the garbage collector.
 */
export async function storeLayerBlob(
  store: ContentStore,
  open: () => Readable | NodeJS.ReadableStream,
  compression: LayerCompression,
  expected?: Digest,
  added?: AddedBlobs,
  entries?: LayerEntry[],
): Promise<ImageLayer> {
  const { digest, size, added: isNew } = await store.putStream(open(), expected);
  added?.note(digest, isNew);
  const { diffId } = await digestLayer(store.openRead(digest), compression, { checkEntries: true, ...(entries ? { entries } : {}) });
  return { digest, diffId, size, mediaType: ociLayerMediaType(compression) };
}

/** Store a layer tar file as is (plain or gzip), as its own blob. */
export async function storeLayerFile(store: ContentStore, file: string, added?: AddedBlobs, entries?: LayerEntry[]): Promise<ImageLayer> {
  const compression = sniffCompression(await fileHead(file));
  if (compression === 'zstd') throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${file}: zstd-compressed layers are not supported`);
  return storeLayerBlob(store, () => createReadStream(file, { highWaterMark: 1 << 20 }), compression, undefined, added, entries);
}
