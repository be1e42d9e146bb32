// `pushImage`: a local image to a registry. Layers are pushed gzip
// compressed (converted once and remembered by prepareExport); each blob is
// checked with HEAD, mounted from another repository of the same registry
// when we know one holds it, or uploaded; the manifest goes last, by tag,
// so the tag never names an image whose blobs are missing.

import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { prepareExport, type CompressionOptions } from '../image/export-prepare.js';
import type { AttachFn } from '../image/oci-layout.js';
import { formatReference, parseReference, repositoryName } from '../image/reference.js';
import type { ImageStore } from '../image/store.js';
import { blobSourcesFor } from './blob-sources.js';
import { RegistryClient } from './client.js';
import type { Credentials } from './docker-config.js';
import { settingsFor } from './endpoints.js';
import { RegistryError } from './errors.js';
import { discard, header } from './http.js';
import { badDigest } from './manifest.js';
import type { ProgressHandler } from './progress.js';
import type { RetryOptions } from './retry.js';
import { runBounded } from '../concurrency.js';
import { endpointsFor, type RegistrySettings } from './settings.js';
import { uploadBlob } from './upload.js';

export interface PushOptions {
  onProgress?: ProgressHandler;
  /** Blobs uploaded at once; default 4. */
  concurrency?: number;
  /** Blobs above this size go up in PATCH chunks of this size; default 16 MiB. */
  chunkSize?: number;
  settings?: RegistrySettings;
  /** Layer compression of the pushed image; default gzip. */
  compression?: CompressionOptions;
  /** undefined: from the docker config; null: anonymous. */
  credentials?: Credentials | null;
  retry?: RetryOptions;
  /** Attestations: the image manifest goes up by digest, then its attestation manifest, and the tag names their index. */
  attach?: AttachFn;
}

export interface PushResult {
  /** Digest of the manifest as pushed (gzip layers: may differ from the local one). */
  digest: Digest;
  /** The full normalised target reference. */
  ref: string;
  /** Size of the pushed manifest in bytes. */
  size: number;
  mediaType: string;
}

/** Without a target, the local name is where it goes (`docker push NAME`); an image id names no repository. */
function pushName(localRefOrId: string, tags: string[]): string {
  let name: string | undefined;
  try {
    name = formatReference(parseReference(localRefOrId));
  } catch {
    name = undefined;
  }
  if (name === undefined || !tags.includes(name)) {
    throw new RegistryError('REGISTRY_PROTOCOL', `${localRefOrId} is not an image name; give the reference to push it as (tsbuild push IMAGE TARGET)`);
  }
  return name;
}

export async function pushImage(
  store: ContentStore,
  images: ImageStore,
  localRefOrId: string,
  targetRef?: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const local = await images.resolve(localRefOrId);
  const target = parseReference(targetRef ?? pushName(localRefOrId, local.tags));
  const label = formatReference(target);
  const settings = await settingsFor(images, opts.settings);
  const endpoint = endpointsFor(target.domain, settings, 'push')[0]!;
  const prepared = await prepareExport(store, local.manifestDigest, { compression: 'gzip', ...opts.compression, memoDir: images.layerMemoDir });
  if (target.digest !== undefined && target.digest !== prepared.manifestDigest) {
    throw new RegistryError('REGISTRY_DIGEST_MISMATCH', `cannot push ${localRefOrId} as ${label}: its pushed manifest digest is ${prepared.manifestDigest}`);
  }

  const attached = await opts.attach?.({ digest: prepared.manifestDigest, size: prepared.manifestSize, names: [label], image: prepared });
  const blobs = [
    { kind: 'config' as const, digest: prepared.configDigest, size: prepared.manifest.config.size },
    ...prepared.layers.map((l) => ({ kind: 'layer' as const, digest: l.digest, size: l.size })),
    ...(attached?.blobs ?? []).map((b) => ({ kind: 'config' as const, digest: b.digest, size: b.size })),
  ];
  const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
  const sources = blobSourcesFor(images.dir);
  const mountFrom = new Map(await Promise.all(unique.map(async (b) => [b.digest, await sources.repositoriesOn(b.digest, target.domain, target.path)] as const)));
  const client = await RegistryClient.create({
    endpoint,
    repository: target.path,
    label,
    actions: ['pull', 'push'],
    mountFrom: [...new Set([...mountFrom.values()].flat())],
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
  });

  const progress = opts.onProgress;
  await runBounded(unique, opts.concurrency ?? 4, async (blob) => {
    let bytes = 0;
    const outcome = await uploadBlob(client, store, blob, {
      mountFrom: mountFrom.get(blob.digest) ?? [],
      ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
      retry: { ...opts.retry, onRetry: () => progress?.({ ...blob, phase: 'retrying', bytes }) },
      onBytes: (n) => {
        bytes += n;
        progress?.({ ...blob, phase: 'uploading', bytes });
      },
    });
    await sources.record(blob.digest, target.domain, target.path);
    progress?.({ ...blob, phase: outcome === 'uploaded' ? 'done' : outcome, bytes: outcome === 'uploaded' ? blob.size : 0 });
  });

  const manifestType = prepared.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  // With attestations the manifests go up by digest first: the tag (the index) never names one missing.
  const manifests = attached
    ? [
        { digest: prepared.manifestDigest, mediaType: manifestType, ref: prepared.manifestDigest as string },
        { digest: attached.attestation.digest, mediaType: attached.attestation.mediaType, ref: attached.attestation.digest as string },
        { digest: attached.index.digest, mediaType: attached.index.mediaType, ref: target.tag ?? attached.index.digest },
      ]
    : [{ digest: prepared.manifestDigest, mediaType: manifestType, ref: target.tag ?? prepared.manifestDigest }];
  let top = { digest: prepared.manifestDigest, size: 0, mediaType: manifestType };
  for (const m of manifests) {
    const bytes = await store.readBuffer(m.digest);
    const res = await client.request('PUT', `manifests/${m.ref}`, { headers: { 'Content-Type': m.mediaType }, body: bytes, ok: [201] });
    await discard(res);
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== m.digest) throw badDigest(client, 'the manifest digest back', m.digest, claimed);
    progress?.({ kind: 'manifest', digest: m.digest, size: bytes.length, phase: 'done', bytes: bytes.length });
    top = { digest: m.digest, size: bytes.length, mediaType: m.mediaType };
  }
  // The digest the registry serves (gzip layers), for `inspect`'s RepoDigests.
  await images.recordRepoDigest(local.id, repositoryName(target), top.digest);
  return { digest: top.digest, ref: label, size: top.size, mediaType: top.mediaType };
}
