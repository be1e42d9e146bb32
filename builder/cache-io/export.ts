// Writes one --cache-to destination: every selected step's record, its
// layers (compressed as asked, once each), optionally the cache mounts,
// then the config and the manifest last, so a reader never finds a
// manifest naming a blob that is not there yet.
import { buildCacheManifest, encodeCacheConfig, CACHE_CONFIG_MEDIA_TYPE, CACHE_SCHEMA, type CacheConfig, type CacheLayerRef, type CacheMountRef } from '../../cache/cache-manifest.js';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { layerCompressionOf } from '../image/types.js';
import { runBounded } from '../concurrency.js';
import type { LayerRecord } from '../snapshots/snapshot-store.js';
import type { StepResult } from '../store/step-result.js';
import { exportBlobOf, type CompressionChoice } from './compress.js';
import type { CacheWriter } from './transport.js';

export interface ExportEntry {
  key: string;
  result: StepResult;
}

export interface ExportInput {
  content: ContentStore;
  memoDir: string;
  entries: ExportEntry[];
  mounts: () => Promise<CacheMountRef[]>;
  choice: CompressionChoice;
  // Brings a lazily imported layer's blob into the content store.
  fetchMissing: (layer: LayerRecord) => Promise<void>;
  // Blobs sent at once.
  concurrency?: number;
}

export interface ExportSummary {
  records: number;
  blobs: number;
  uploaded: number;
  manifestDigest: Digest;
}

function needsConversion(layer: LayerRecord, choice: CompressionChoice): boolean {
  const c = layerCompressionOf(layer.mediaType);
  return c !== undefined && c !== 'zstd' && c !== choice.compression;
}

// The cache config for these entries; converts layers as needed.
export async function buildCacheConfig(input: ExportInput): Promise<{ config: CacheConfig; sources: Map<string, LayerRecord> }> {
  const layers: Record<string, CacheLayerRef> = {};
  // Exported blob digest → the local layer it came from (to fetch it if missing).
  const sources = new Map<string, LayerRecord>();
  const pending = new Map<string, LayerRecord>();
  for (const e of input.entries) for (const l of e.result.layers) if (!pending.has(l.diffId)) pending.set(l.diffId, l);
  await runBounded([...pending.values()], input.concurrency ?? 4, async (layer) => {
    if (needsConversion(layer, input.choice) && !(await input.content.has(layer.blob))) await input.fetchMissing(layer);
    const blob = await exportBlobOf(input.content, input.memoDir, layer, input.choice);
    layers[layer.diffId] = { ...blob, ...(layer.created !== undefined ? { created: layer.created } : {}) };
    sources.set(blob.digest, layer);
  });
  const records = input.entries.map((e) => ({ key: e.key, layers: e.result.layers.map((l) => l.diffId), stepAdded: e.result.stepAdded }));
  // One record per key: a vertex solved twice under one key has one result.
  const unique = [...new Map(records.map((r) => [r.key, r])).values()];
  return { config: { schema: CACHE_SCHEMA, records: unique, layers, mounts: await input.mounts() }, sources };
}

export async function writeCache(writer: CacheWriter, input: ExportInput): Promise<ExportSummary> {
  const { config, sources } = await buildCacheConfig(input);
  const configBytes = encodeCacheConfig(config);
  const { bytes, manifest, digest } = buildCacheManifest(configBytes, config);
  await input.content.putBuffer(configBytes);
  let uploaded = 0;
  await runBounded(manifest.layers, input.concurrency ?? 4, async (blob) => {
    if (!(await input.content.has(blob.digest))) {
      // An imported layer never downloaded: fetched only when the destination lacks it.
      if (await writer.has(blob)) return;
      const source = sources.get(blob.digest);
      if (!source) throw new Error(`cache blob ${blob.digest} is not in the local store`);
      await input.fetchMissing(source);
    }
    if ((await writer.putBlob(input.content, blob)) === 'uploaded') uploaded++;
  });
  await writer.putBlob(input.content, { ...manifest.config, mediaType: CACHE_CONFIG_MEDIA_TYPE });
  await writer.commit(bytes, manifest.mediaType);
  return { records: config.records.length, blobs: manifest.layers.length, uploaded, manifestDigest: digest };
}
