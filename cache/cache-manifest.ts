// The exported build cache's format, version 1 (docs/cache-format.md):
// an OCI image manifest whose config blob is a small JSON document (the
// "cache config") mapping solver cache keys to layer chains, and whose
// layers are every blob that document names. Pure: building, encoding,
// parsing and validating; moving bytes is builder/cache-io's job.
import { digestOf, isDigest, type Digest } from './digest.js';

export const CACHE_SCHEMA = 1;
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.tsbuild.cache.config.v1+json';
export const CACHE_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
// Marks the manifest as a build cache for tools that list artifacts.
export const CACHE_ANNOTATION = 'dev.tsbuild.cache.schema';

// A blob as stored in the cache: compressed (or not) bytes and their type.
export interface CacheBlobRef {
  digest: Digest;
  size: number;
  mediaType: string;
}

// A layer in the table: its blob, and when the step that made it ran (the
// image history's time for it, so an image rebuilt from the cache is
// byte-for-byte the one the exporting build made).
export interface CacheLayerRef extends CacheBlobRef {
  created?: string;
}

// One solved step: its cache key and the filesystem it produced.
export interface CacheRecord {
  key: string;
  layers: Digest[];                  // diff ids, bottom first
  stepAdded: boolean[];
}

// The contents of a `RUN --mount=type=cache` directory, as one tar blob.
export interface CacheMountRef extends CacheBlobRef {
  id: string;                        // the mount's id (its target when no id= was given)
  diffId: Digest;                    // the uncompressed tar's digest
  mode: number;                      // the directory's own mode and owner
  uid: number;
  gid: number;
}

export interface CacheConfig {
  schema: number;
  records: CacheRecord[];
  layers: Record<string, CacheLayerRef>;  // diff id → blob
  mounts: CacheMountRef[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
}

export interface CacheManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export class CacheFormatError extends Error {
  readonly userError = true;
  readonly code = 'CACHE_FORMAT';
}

// Sorted records and layer entries: the same cache gives the same bytes,
// so re-exporting an unchanged cache pushes nothing new.
export function encodeCacheConfig(config: CacheConfig): Buffer {
  const layers: Record<string, CacheLayerRef> = {};
  for (const d of Object.keys(config.layers).sort()) {
    const l = config.layers[d]!;
    layers[d] = { digest: l.digest, size: l.size, mediaType: l.mediaType, ...(l.created !== undefined ? { created: l.created } : {}) };
  }
  const records = [...config.records].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => ({ key: r.key, layers: r.layers, stepAdded: r.stepAdded }));
  const mounts = [...config.mounts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((m) => ({ id: m.id, diffId: m.diffId, digest: m.digest, size: m.size, mediaType: m.mediaType, mode: m.mode, uid: m.uid, gid: m.gid }));
  return Buffer.from(JSON.stringify({ schema: config.schema, records, layers, mounts }), 'utf8');
}

// The manifest naming the config and every blob it references, once each.
export function buildCacheManifest(configBytes: Buffer, config: CacheConfig): { manifest: CacheManifest; bytes: Buffer; digest: Digest } {
  const blobs = new Map<string, CacheBlobRef>();
  for (const l of Object.values(config.layers)) blobs.set(l.digest, l);
  for (const m of config.mounts) blobs.set(m.digest, m);
  const manifest: CacheManifest = {
    schemaVersion: 2,
    mediaType: CACHE_MANIFEST_MEDIA_TYPE,
    config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: digestOf(configBytes), size: configBytes.length },
    layers: [...blobs.values()].sort((a, b) => (a.digest < b.digest ? -1 : 1)).map((b) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size })),
    annotations: { [CACHE_ANNOTATION]: String(CACHE_SCHEMA) },
  };
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  return { manifest, bytes, digest: digestOf(bytes) };
}

function fail(where: string, why: string): never {
  throw new CacheFormatError(`${where}: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkBlob(v: unknown, where: string): CacheBlobRef {
  if (!isObject(v)) fail(where, 'not an object');
  if (typeof v.digest !== 'string' || !isDigest(v.digest)) fail(where, `invalid digest ${JSON.stringify(v.digest)}`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) fail(where, 'invalid size');
  if (typeof v.mediaType !== 'string' || v.mediaType === '') fail(where, 'no mediaType');
  return { digest: v.digest, size: v.size, mediaType: v.mediaType };
}

// The cache manifest as read from a registry or a layout: it must point at a cache config.
export function parseCacheManifest(bytes: Buffer, where: string): CacheManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail(where, 'the cache manifest is not JSON');
  }
  if (!isObject(json) || json.schemaVersion !== 2 || !isObject(json.config) || !Array.isArray(json.layers)) fail(where, 'not an OCI image manifest');
  if (json.config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
    fail(where, `not a tsbuild build cache (config media type ${JSON.stringify(json.config.mediaType)}, expected ${CACHE_CONFIG_MEDIA_TYPE})`);
  }
  const config = checkBlob(json.config, `${where} config`);
  const layers = json.layers.map((l, i) => checkBlob(l, `${where} layer ${i}`));
  return { schemaVersion: 2, mediaType: CACHE_MANIFEST_MEDIA_TYPE, config, layers };
}

// Everything is checked before use: a cache written by anyone is input
// from outside, and a bad entry must never become a bad image.
export function parseCacheConfig(bytes: Buffer, where: string): CacheConfig {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail(where, 'the cache config is not JSON');
  }
  if (!isObject(json)) fail(where, 'the cache config is not an object');
  if (json.schema !== CACHE_SCHEMA) fail(where, `cache format schema ${JSON.stringify(json.schema)} is not supported (this tsbuild reads schema ${CACHE_SCHEMA})`);
  if (!isObject(json.layers) || !Array.isArray(json.records)) fail(where, 'the cache config lacks records or layers');
  const layers: Record<string, CacheLayerRef> = {};
  for (const [diffId, ref] of Object.entries(json.layers)) {
    if (!isDigest(diffId)) fail(where, `invalid diff id ${JSON.stringify(diffId)}`);
    const blob: CacheLayerRef = checkBlob(ref, `${where} layer ${diffId}`);
    const created = (ref as Record<string, unknown>).created;
    if (created !== undefined) {
      if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) fail(where, `layer ${diffId}: invalid created time`);
      blob.created = created;
    }
    layers[diffId] = blob;
  }
  const records = json.records.map((r, i): CacheRecord => {
    if (!isObject(r) || typeof r.key !== 'string' || !isDigest(r.key)) fail(where, `record ${i}: invalid key`);
    if (!Array.isArray(r.layers) || !Array.isArray(r.stepAdded)) fail(where, `record ${i}: no layers or stepAdded`);
    for (const d of r.layers) if (typeof d !== 'string' || layers[d] === undefined) fail(where, `record ${i}: layer ${JSON.stringify(d)} is not in the layer table`);
    if (!r.stepAdded.every((b) => typeof b === 'boolean')) fail(where, `record ${i}: stepAdded must be booleans`);
    return { key: r.key, layers: r.layers as Digest[], stepAdded: r.stepAdded as boolean[] };
  });
  const mounts = (Array.isArray(json.mounts) ? json.mounts : []).map((m, i): CacheMountRef => {
    const blob = checkBlob(m, `${where} mount ${i}`);
    const o = m as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') fail(where, `mount ${i}: no id`);
    if (typeof o.diffId !== 'string' || !isDigest(o.diffId)) fail(where, `mount ${i}: invalid diffId`);
    for (const k of ['mode', 'uid', 'gid'] as const) {
      if (typeof o[k] !== 'number' || !Number.isSafeInteger(o[k]) || (o[k] as number) < 0) fail(where, `mount ${i}: invalid ${k}`);
    }
    return { ...blob, id: o.id, diffId: o.diffId, mode: o.mode as number, uid: o.uid as number, gid: o.gid as number };
  });
  return { schema: CACHE_SCHEMA, records, layers, mounts };
}
