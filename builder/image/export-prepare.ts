// Turn a stored image into the image an exporter writes: layers converted
// to the requested compression (in parallel), and a manifest describing
// exactly those blobs. The local store keeps layers uncompressed (each
// layer is written once by the build), so an exported manifest digest can
// differ from the local one; the config, and so the image id, never does.
// Converted layers are kept in the content store and remembered in a small
// memo directory, so exporting the same image twice compresses nothing.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { createZstd } from './zstd.js';
import { parseCompressionOptions } from './compression-options.js';
export { parseCompressionOptions } from './compression-options.js';
import { createParallelGzip } from '../../cache/parallel-gzip.js';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { hexOf, isDigest } from '../../cache/digest.js';
import { ImageError } from './errors.js';
import { readJsonIfExists, writeFileAtomic } from './fs-util.js';
import { mapLimit } from '../concurrency.js';
import { readImage, type ImageDescription } from './image.js';
import type { ImageLayer, ImageManifest, LayerCompression } from './types.js';
import { MediaType, layerCompressionOf, ociLayerMediaType } from './types.js';

export type { CompressionOptions } from './compression-options.js';
import type { CompressionOptions } from './compression-options.js';

export interface PreparedImage extends ImageDescription {
  manifestSize: number;
}

interface Memo {
  digest: Digest;
  size: number;
}

async function recall(store: ContentStore, memoFile: string | undefined): Promise<Memo | undefined> {
  if (!memoFile) return undefined;
  const memo = await readJsonIfExists<Memo>(memoFile).catch(() => undefined);
  if (!memo || typeof memo.digest !== 'string' || !isDigest(memo.digest)) return undefined;
  // The blob may have been garbage-collected since; then convert again.
  return (await store.has(memo.digest)) ? memo : undefined;
}

async function convertLayer(
  store: ContentStore,
  layer: ImageLayer,
  target: LayerCompression,
  level: number,
  memoDir: string | undefined,
  force: boolean,
): Promise<ImageLayer> {
  const source = layerCompressionOf(layer.mediaType);
  if (!source) throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `layer ${layer.digest}: unsupported media type ${layer.mediaType}`);
  const mediaType = ociLayerMediaType(target);
  if (source === target) return { ...layer, mediaType };
  // A layer already compressed another way stays so unless forced (BuildKit's force-compression).
  if (!force && source !== 'uncompressed' && target !== 'uncompressed') return { ...layer, mediaType: ociLayerMediaType(source) };

  // `pgz1`: the gzip bytes come from the block-parallel compressor; a memo of another compressor would give other digests.
  const memoFile = memoDir ? path.join(memoDir, `${target}-${target === 'gzip' ? `pgz1-${level}` : target === 'zstd' ? `zstd-${level}` : 0}-${hexOf(layer.diffId)}.json`) : undefined;
  const known = await recall(store, memoFile);
  if (known) return { digest: known.digest, size: known.size, diffId: layer.diffId, mediaType };

  // Decompress what is compressed, then compress to the target.
  const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [store.openRead(layer.digest)];
  if (source === 'gzip') stages.push(createGunzip());
  if (source === 'zstd') stages.push(createZstd('decompress'));
  // One big layer is the common case: compress its blocks on every core (see cache/parallel-gzip.ts).
  if (target === 'gzip') stages.push(createParallelGzip({ level }));
  if (target === 'zstd') stages.push(createZstd('compress', level));
  const transform = stages.at(-1) as NodeJS.ReadableStream & NodeJS.WritableStream;
  // pipeline (not pipe) so a read error or a corrupt source blob reaches putStream and fails the export.
  const feeding = stages.length === 1 ? Promise.resolve() : pipeline(stages as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  // Decompressing must give back exactly the diff_id, so the store verifies that for us.
  const [converted] = await Promise.all([store.putStream(transform, target === 'uncompressed' ? layer.diffId : undefined), feeding]);
  if (memoFile) {
    await fs.mkdir(path.dirname(memoFile), { recursive: true });
    await writeFileAtomic(memoFile, JSON.stringify({ digest: converted.digest, size: converted.size } satisfies Memo));
  }
  return { digest: converted.digest, size: converted.size, diffId: layer.diffId, mediaType };
}

/** Read the stored image and produce (and store) the manifest to export. */
export async function prepareExport(store: ContentStore, manifestDigest: Digest, opts: CompressionOptions = {}): Promise<PreparedImage> {
  const { compression, level } = parseCompressionOptions(opts);
  const image = await readImage(store, manifestDigest);
  // An image may hold the same layer twice (e.g. two identical COPY steps); convert it once.
  const unique = [...new Map(image.layers.map((l) => [l.digest, l])).values()];
  const converted = await mapLimit(unique, opts.concurrency ?? os.availableParallelism(), (layer) =>
    convertLayer(store, layer, compression, level, opts.memoDir, opts.forceCompression ?? false),
  );
  const byDigest = new Map(unique.map((l, i) => [l.digest, converted[i]!]));
  const layers = image.layers.map((l) => byDigest.get(l.digest)!);
  // Always written as OCI: the config JSON is the same for Docker's media type.
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: image.configDigest, size: image.manifest.config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  if (image.manifest.annotations) manifest.annotations = image.manifest.annotations;
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const exportedDigest = await store.putBuffer(bytes);
  return { ...image, manifestDigest: exportedDigest, manifest, layers, manifestSize: bytes.length };
}
