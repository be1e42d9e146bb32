// The in-memory description of one image (manifest + config + layers) and
// the two ways to get one: read it back from the content store, or write a
// new one (config blob, then manifest blob) from layers already stored.
//
// Two digests name an image: the MANIFEST digest (what registries and
// `name@sha256:` references use) and the CONFIG digest, which is the image
// id Docker shows as IMAGE ID. We keep both.

import type { ContentStore } from '../../cache/content-store.js';
import { digestOf, type Digest } from '../../cache/digest.js';
import { ImageError } from './errors.js';
import { hostPlatform } from './platform.js';
import type { ContainerConfig, HistoryEntry, ImageConfig, ImageLayer, ImageManifest, Platform } from './types.js';
import { MediaType, isConfigMediaType, isIndexMediaType, isManifestMediaType } from './types.js';

export interface ImageDescription {
  manifestDigest: Digest;
  manifest: ImageManifest;
  /** Docker's image id. */
  configDigest: Digest;
  config: ImageConfig;
  /** In rootfs order, each paired with its diff_id from the config. */
  layers: ImageLayer[];
}

/** Read a stored single-platform manifest (OCI or Docker schema2) and its config; an index is refused. */
export async function readImage(store: ContentStore, manifestDigest: Digest): Promise<ImageDescription> {
  const manifest = JSON.parse((await store.readBuffer(manifestDigest)).toString('utf8')) as ImageManifest & { manifests?: unknown };
  if (isIndexMediaType(manifest.mediaType) || Array.isArray(manifest.manifests)) {
    throw new ImageError('INVALID_IMAGE', `${manifestDigest} is an image index, not a single-platform manifest`);
  }
  if (manifest.mediaType !== undefined && !isManifestMediaType(manifest.mediaType)) {
    throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${manifestDigest}: unsupported manifest media type ${manifest.mediaType}`);
  }
  if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) {
    throw new ImageError('INVALID_IMAGE', `${manifestDigest}: not a schema 2 image manifest`);
  }
  if (!isConfigMediaType(manifest.config.mediaType)) {
    throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${manifestDigest}: unsupported config media type ${manifest.config.mediaType}`);
  }
  const configDigest = manifest.config.digest;
  const config = JSON.parse((await store.readBuffer(configDigest)).toString('utf8')) as ImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new ImageError(
      'INVALID_IMAGE',
      `${manifestDigest}: manifest has ${manifest.layers.length} layers but config lists ${diffIds.length} diff_ids`,
    );
  }
  const layers = manifest.layers.map((d, i) => ({ digest: d.digest, diffId: diffIds[i]!, size: d.size, mediaType: d.mediaType }));
  return { manifestDigest, manifest, configDigest, config, layers };
}

/** Serialise as the bytes we store; fixed key order from construction, no whitespace, so equal images give equal digests. */
function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/**
 * Store `config` and an OCI manifest over `layers` (blobs already in the store).
 * The config's rootfs.diff_ids must be the layers' diff ids, in order.
 */
export async function writeImage(
  store: ContentStore,
  config: ImageConfig,
  layers: ImageLayer[],
  annotations?: Record<string, string>,
): Promise<ImageDescription> {
  const { image, stored } = startWriteImage(store, config, layers, annotations);
  await stored;
  return image;
}

/** An image whose config and manifest are being stored: `stored` settles once both are durable and in the store. */
export interface StartedImage {
  image: ImageDescription;
  stored: Promise<void>;
}

/**
 * writeImage without the wait: both blobs' digests are known before a byte
 * is stored (the manifest names the config by digest), so the description
 * is there at once while both are written (each a write, an fsync and a
 * rename). Nothing may refer to them before `stored` settles.
 */
export function startWriteImage(
  store: ContentStore,
  config: ImageConfig,
  layers: ImageLayer[],
  annotations?: Record<string, string>,
): StartedImage {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layers.length || layers.some((l, i) => l.diffId !== diffIds[i])) {
    throw new Error('writeImage: config rootfs.diff_ids do not match the layers');
  }
  const configBytes = canonicalJson(config);
  const configDigest = digestOf(configBytes);
  const manifest = manifestOf({ digest: configDigest, size: configBytes.length }, layers, annotations);
  const manifestBytes = canonicalJson(manifest);
  const manifestDigest = digestOf(manifestBytes);
  const stored = Promise.all([store.putBuffer(configBytes, configDigest), store.putBuffer(manifestBytes, manifestDigest)]).then(() => undefined);
  return { image: { manifestDigest, manifest, configDigest, config, layers }, stored };
}

/**
 * Store an OCI manifest over a config blob that is already stored (byte for
 * byte as received: re-serialising a loaded config would change the image id).
 */
export async function storeManifest(
  store: ContentStore,
  config: { digest: Digest; size: number },
  layers: ImageLayer[],
  annotations?: Record<string, string>,
): Promise<{ manifestDigest: Digest; manifest: ImageManifest }> {
  const manifest = manifestOf(config, layers, annotations);
  const manifestDigest = await store.putBuffer(canonicalJson(manifest));
  return { manifestDigest, manifest };
}

function manifestOf(config: { digest: Digest; size: number }, layers: ImageLayer[], annotations?: Record<string, string>): ImageManifest {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  if (annotations && Object.keys(annotations).length > 0) manifest.annotations = annotations;
  return manifest;
}

export interface BuildImageInput {
  /** The FROM image; undefined for `FROM scratch`. Its layers and history come first. */
  base?: { config: ImageConfig; layers: ImageLayer[] };
  /** The final runtime config (ENV, CMD, ...), already merged with the base's by the caller. */
  containerConfig: ContainerConfig;
  /** Layers this build added, in order, blobs already in the store. */
  layers: ImageLayer[];
  /** One entry per build step; metadata-only steps set `empty_layer: true`. */
  history: HistoryEntry[];
  /** Defaults to the base image's platform, else the host's. */
  platform?: Platform;
  /** ISO 8601; defaults to now. Pass SOURCE_DATE_EPOCH's time for reproducible images. */
  created?: string;
  author?: string;
  annotations?: Record<string, string>;
}

/** Assemble the final config (base + new layers and history) and store config and manifest. */
export async function buildImage(store: ContentStore, input: BuildImageInput): Promise<ImageDescription> {
  const { image, stored } = startBuildImage(store, input);
  await stored;
  return image;
}

/** buildImage without waiting for the blobs to be stored (startWriteImage). */
export function startBuildImage(store: ContentStore, input: BuildImageInput): StartedImage {
  const baseLayers = input.base?.layers ?? [];
  const layers = [...baseLayers, ...input.layers];
  const history = [...(input.base?.config.history ?? []), ...input.history];
  const nonEmpty = history.filter((h) => !h.empty_layer).length;
  // A base image without history (some old images) cannot be checked; only check our own steps then.
  const checkable = input.base === undefined || (input.base.config.history ?? []).length > 0;
  if (checkable && nonEmpty !== layers.length) {
    throw new Error(`buildImage: ${nonEmpty} non-empty history entries for ${layers.length} layers`);
  }
  const platform = input.platform ?? (input.base ? platformOf(input.base.config) : hostPlatform());
  const config: ImageConfig = {
    created: input.created ?? new Date().toISOString(),
    ...(input.author !== undefined ? { author: input.author } : {}),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    ...(platform['os.version'] ? { 'os.version': platform['os.version'] } : {}),
    config: input.containerConfig,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history,
  };
  return startWriteImage(store, config, layers, input.annotations);
}

export function platformOf(config: ImageConfig): Platform {
  const p: Platform = { architecture: config.architecture, os: config.os };
  if (config.variant) p.variant = config.variant;
  if (config['os.version']) p['os.version'] = config['os.version'];
  return p;
}
