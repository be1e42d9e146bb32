// The blob a layer is exported as: gzip by default (what registries and
// BuildKit's cache use), converted once and remembered in the same memo
// the image exporters use (`<images>/layer-memo`, keyed by diff id and the
// compressor's settings), so pushing an image and exporting its cache
// compress each layer once, to the same bytes.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { CacheBlobRef } from '../../cache/cache-manifest.js';
import type { ContentStore } from '../../cache/content-store.js';
import { hexOf, isDigest, type Digest } from '../../cache/digest.js';
import { createParallelGzip } from '../../cache/parallel-gzip.js';
import { readJsonIfExists, writeFileAtomic } from '../image/fs-util.js';
import { layerCompressionOf, ociLayerMediaType } from '../image/types.js';
import type { LayerRecord } from '../snapshots/snapshot-store.js';

export interface CompressionChoice {
  compression: 'gzip' | 'uncompressed';
  level: number;
}

export const DEFAULT_GZIP_LEVEL = 6;

interface Memo {
  digest: Digest;
  size: number;
}

// Same file names as builder/image/export-prepare.ts: `pgz1` names the
// block-parallel compressor, whose output differs from plain zlib's.
function memoFileOf(memoDir: string, target: 'gzip' | 'uncompressed', level: number, diffId: Digest): string {
  return path.join(memoDir, `${target}-${target === 'gzip' ? `pgz1-${level}` : 0}-${hexOf(diffId)}.json`);
}

async function recall(content: ContentStore, file: string): Promise<Memo | undefined> {
  const memo = await readJsonIfExists<Memo>(file).catch(() => undefined);
  if (!memo || typeof memo.digest !== 'string' || !isDigest(memo.digest) || typeof memo.size !== 'number') return undefined;
  return (await content.has(memo.digest)) ? memo : undefined;
}

// The layer's blob in the chosen compression, stored in the content store.
// Layers already in that compression, and zstd layers, go as they are.
export async function exportBlobOf(content: ContentStore, memoDir: string, layer: LayerRecord, choice: CompressionChoice): Promise<CacheBlobRef> {
  const source = layerCompressionOf(layer.mediaType);
  if (source === undefined || source === 'zstd' || source === choice.compression) {
    return { digest: layer.blob, size: layer.size, mediaType: layer.mediaType };
  }
  const mediaType = ociLayerMediaType(choice.compression);
  const memoFile = memoFileOf(memoDir, choice.compression, choice.level, layer.diffId);
  const known = await recall(content, memoFile);
  if (known) return { digest: known.digest, size: known.size, mediaType };
  const transform = choice.compression === 'gzip' ? createParallelGzip({ level: choice.level }) : createGunzip();
  const feeding = pipeline(content.openRead(layer.blob), transform);
  // Back to uncompressed must give exactly the diff id: the store checks it.
  const [stored] = await Promise.all([content.putStream(transform, choice.compression === 'uncompressed' ? layer.diffId : undefined), feeding]);
  await mkdir(memoDir, { recursive: true });
  await writeFileAtomic(memoFile, JSON.stringify({ digest: stored.digest, size: stored.size } satisfies Memo));
  return { digest: stored.digest, size: stored.size, mediaType };
}
