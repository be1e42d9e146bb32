// `pullImage`: a tag or digest from a registry into the local store
// (blobs first, verified; then the manifest; then the check `du --check`
// makes, so a broken image is refused with the blobs it brought; then the
// tag, so a name never points at missing or broken blobs), and `resolveRemote` for builds that only need
// an image's config.

import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { digestOf } from '../../cache/digest.js';
import { hostPlatform } from '../image/platform.js';
import { formatReference, parseReference, repositoryName, type ImageReference } from '../image/reference.js';
import type { ImageStore } from '../image/store.js';
import { AddedBlobs } from '../image/added-blobs.js';
import { assertValidImage, type LayerFacts } from '../image/validate.js';
import type { ImageConfig, ImageManifest, Platform } from '../image/types.js';
import { blobSourcesFor } from './blob-sources.js';
import { RegistryClient } from './client.js';
import type { Credentials } from './docker-config.js';
import type { BlobTail } from './blob-tail.js';
import { downloadBlob } from './download.js';
import { settingsFor, withPullEndpoints } from './endpoints.js';
import { RegistryError } from './errors.js';
import { badDigest, resolveManifest, type ResolvedManifest } from './manifest.js';
import type { ProgressHandler } from './progress.js';
import type { RetryOptions } from './retry.js';
import { runBounded } from '../concurrency.js';
import type { StallLimits } from './stall.js';
import type { Endpoint, RegistrySettings } from './settings.js';

export interface RemoteOptions {
  /** Default: the host's platform. */
  platform?: Platform;
  /** Default: from the environment and `<store root>/registries.json`. */
  settings?: RegistrySettings;
  /** undefined: from the docker config; null: anonymous. */
  credentials?: Credentials | null;
  retry?: RetryOptions;
}

export interface PullOptions extends RemoteOptions {
  onProgress?: ProgressHandler;
  /** Layers downloaded at once; default 3 (as Docker). */
  concurrency?: number;
  /** When a trickling download is cut and when it fails; default: the registry settings' (stall.ts). */
  stall?: StallLimits;
  /**
   * A reader of each layer blob this pull downloads, as its bytes arrive
   * (index: its position in the manifest, bottom first); provisional until
   * `tail.downloaded` resolves (see blob-tail.ts). A reader that reads the
   * whole layer (an unpack) may return what it found, which the image check
   * before the tag then takes instead of reading the blob again.
   */
  onLayerTail?: (layer: { digest: Digest; size: number; index: number }, tail: BlobTail) => Promise<LayerFacts> | void;
}

export interface PullResult {
  /** The single-platform manifest stored and tagged. */
  manifestDigest: Digest;
  /** The full normalised reference: `docker.io/library/busybox:latest`. */
  ref: string;
  /** Docker's image id. */
  configDigest: Digest;
}

export interface RemoteImage {
  manifestDigest: Digest;
  manifest: ImageManifest;
  configDigest: Digest;
  config: ImageConfig;
  ref: string;
}

const CONFIG_LIMIT = 8 << 20;

function clientFor(endpoint: Endpoint, ref: ImageReference, opts: RemoteOptions): Promise<RegistryClient> {
  return RegistryClient.create({
    endpoint,
    repository: ref.path,
    label: formatReference(ref),
    actions: ['pull'],
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
  });
}

async function resolveOn(client: RegistryClient, ref: ImageReference, opts: RemoteOptions): Promise<ResolvedManifest> {
  return resolveManifest(client, ref.digest ?? ref.tag ?? 'latest', opts.platform ?? hostPlatform());
}

function parseConfig(client: RegistryClient, bytes: Buffer, manifest: ImageManifest): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw new RegistryError('REGISTRY_PROTOCOL', `the config of ${client.label} on ${client.registry} is not JSON`);
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
    throw new RegistryError(
      'UNSUPPORTED_MANIFEST',
      `${client.label} on ${client.registry}: the manifest has ${manifest.layers.length} layers but the config lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids`,
    );
  }
  return config;
}

export async function pullImage(store: ContentStore, images: ImageStore, refText: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refText);
  const settings = await settingsFor(images, opts.settings);
  const sources = blobSourcesFor(images.dir);
  const progress = opts.onProgress;
  const added = new AddedBlobs(store);
  const stall = opts.stall ?? settings.stall;
  const { manifestDigest, configDigest, servedDigest } = await withPullEndpoints(ref.domain, settings, async (endpoint) => {
    const client = await clientFor(endpoint, ref, opts);
    const { manifest, index } = await resolveOn(client, ref, opts);
    const m = manifest.json;
    const blobs = [
      { kind: 'config' as const, digest: m.config.digest, size: m.config.size },
      ...m.layers.map((l) => ({ kind: 'layer' as const, digest: l.digest, size: l.size })),
    ];
    const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
    // Layers downloaded here whose reader reported on them (failed readers: undefined).
    const facts = new Map<Digest, Promise<LayerFacts | undefined>>();
    const follow = opts.onLayerTail;
    const onTail = (blob: { digest: Digest; size: number }, index: number) => (tail: BlobTail) => {
      const found = follow!({ digest: blob.digest, size: blob.size, index }, tail);
      if (found) facts.set(blob.digest, found.then((f) => f, () => undefined));
    };
    await runBounded(unique, opts.concurrency ?? 3, async (blob) => {
      let bytes = 0;
      const index = blob.kind === 'layer' ? m.layers.findIndex((l) => l.digest === blob.digest) : -1;
      const downloaded = await downloadBlob(client, store, blob, {
        ...(follow && index >= 0 ? { onTail: onTail(blob, index) } : {}),
        retry: { ...opts.retry, onRetry: () => progress?.({ ...blob, phase: 'retrying', bytes }) },
        stall,
        onBytes: (n) => {
          bytes += n;
          progress?.({ ...blob, phase: 'downloading', bytes });
        },
      });
      added.note(blob.digest, downloaded);
      progress?.({ ...blob, phase: downloaded ? 'done' : 'exists', bytes: downloaded ? blob.size : 0 });
    });
    parseConfig(client, await store.readBuffer(m.config.digest), m);
    // Only the registry itself can serve later mounts; a mirror is a different registry.
    // A hint for pushes: written while the image is checked.
    const recorded = endpoint.mirror ? Promise.resolve() : Promise.all(unique.map((b) => sources.record(b.digest, ref.domain, ref.path)));
    recorded.catch(() => undefined);
    await added.putBuffer(manifest.bytes, manifest.digest);
    // Every blob is downloaded and verified by now (digest and size), so
    // what its reader found is what the blob holds.
    const known = new Map<Digest, LayerFacts>();
    for (const [digest, found] of facts) {
      const f = await found;
      if (f) known.set(digest, f);
    }
    try {
      await assertValidImage(store, manifest.digest, `${client.label} on ${client.registry}`, known);
    } catch (e) {
      await added.discard();
      throw e;
    }
    await recorded;
    progress?.({ kind: 'manifest', digest: manifest.digest, size: manifest.bytes.length, phase: 'done', bytes: manifest.bytes.length });
    // docker's RepoDigests name what the reference resolved to: the index when there is one.
    return { manifestDigest: manifest.digest, configDigest: m.config.digest, servedDigest: index?.digest ?? manifest.digest };
  });
  if (ref.tag !== undefined) await images.tag(formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag }), manifestDigest);
  else await images.add(manifestDigest);
  await images.recordRepoDigest(configDigest, repositoryName(ref), servedDigest);
  return { manifestDigest, ref: formatReference(ref), configDigest };
}

/** The manifest and config of a remote image for `platform`, without its layers; nothing is stored. */
export async function resolveRemote(
  refText: string,
  platform?: Platform,
  options: Omit<RemoteOptions, 'platform'> & { images?: ImageStore } = {},
): Promise<RemoteImage> {
  const ref = parseReference(refText);
  const opts: RemoteOptions & { images?: ImageStore } = platform ? { ...options, platform } : options;
  const settings = await settingsFor(opts.images, opts.settings);
  return withPullEndpoints(ref.domain, settings, async (endpoint) => {
    const client = await clientFor(endpoint, ref, opts);
    const { manifest } = await resolveOn(client, ref, opts);
    const m = manifest.json;
    const { body } = await client.fetchBuffer('GET', `blobs/${m.config.digest}`, { ok: [200] }, CONFIG_LIMIT);
    const actual = digestOf(body);
    if (actual !== m.config.digest) throw badDigest(client, 'the image config', m.config.digest, actual);
    return { manifestDigest: manifest.digest, manifest: m, configDigest: m.config.digest, config: parseConfig(client, body, m), ref: formatReference(ref) };
  });
}
