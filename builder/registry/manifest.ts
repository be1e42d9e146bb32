// Reading manifests from a registry: one GET with every media type we
// understand in Accept, the bytes checked against the digest we asked for
// (or the one the registry claims), and an index narrowed to one platform.

import type { Digest } from '../../cache/digest.js';
import { digestOf, isDigest } from '../../cache/digest.js';
import { formatPlatform, selectManifest } from '../image/platform.js';
import type { ImageIndex, ImageManifest, Platform } from '../image/types.js';
import { MediaType, isIndexMediaType, isManifestMediaType } from '../image/types.js';
import type { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { header } from './http.js';

export const MANIFEST_ACCEPT = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList].join(', ');
const MANIFEST_LIMIT = 4 << 20;

export interface RemoteManifest {
  digest: Digest;
  mediaType: string;
  /** Exactly as received: the digest is over these bytes. */
  bytes: Buffer;
  json: ImageManifest | ImageIndex;
}

export function badDigest(client: RegistryClient, what: string, expected: string, actual: string): RegistryError {
  return new RegistryError('REGISTRY_DIGEST_MISMATCH', `${client.registry} sent ${what} for ${client.label} with digest ${actual}, expected ${expected}`);
}

/** GET a manifest by tag or digest. */
export async function getManifest(client: RegistryClient, reference: string): Promise<RemoteManifest> {
  const { res, body } = await client.fetchBuffer('GET', `manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT }, ok: [200] }, MANIFEST_LIMIT);
  const digest = digestOf(body);
  const claimed = header(res, 'docker-content-digest');
  if (isDigest(reference) && digest !== reference) throw badDigest(client, 'a manifest', reference, digest);
  if (claimed && claimed.startsWith('sha256:') && claimed !== digest) throw badDigest(client, 'a manifest', claimed, digest);
  let json: (ImageManifest | ImageIndex) & { schemaVersion?: number; manifests?: unknown };
  try {
    json = JSON.parse(body.toString('utf8')) as typeof json;
  } catch {
    throw new RegistryError('REGISTRY_PROTOCOL', `${client.registry} sent a manifest for ${client.label} that is not JSON`);
  }
  if (json.schemaVersion !== 2) {
    throw new RegistryError('UNSUPPORTED_MANIFEST', `${client.label} on ${client.registry} uses manifest schema ${String(json.schemaVersion)}; only schema 2 (Docker v2 / OCI) is supported`);
  }
  // The JSON's own mediaType wins: some registries send a generic Content-Type.
  const contentType = (header(res, 'content-type') ?? '').split(';')[0]!.trim();
  const mediaType = json.mediaType ?? (Array.isArray(json.manifests) ? MediaType.ociIndex : contentType || MediaType.ociManifest);
  return { digest, mediaType, bytes: body, json };
}

export interface ResolvedManifest {
  /** The single-platform image manifest. */
  manifest: RemoteManifest & { json: ImageManifest };
  /** The index it was chosen from, when the reference named one. */
  index?: RemoteManifest & { json: ImageIndex };
}

/** The image manifest for `platform` behind a tag or digest (through an index if there is one). */
export async function resolveManifest(client: RegistryClient, reference: string, platform: Platform): Promise<ResolvedManifest> {
  const top = await getManifest(client, reference);
  if (!isIndexMediaType(top.mediaType)) return { manifest: checkImageManifest(client, top) };
  const index = top as RemoteManifest & { json: ImageIndex };
  const chosen = selectManifest(index.json, platform);
  if (!chosen) {
    const available = index.json.manifests.filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
    throw new RegistryError(
      'NO_MATCHING_PLATFORM',
      `${client.label} on ${client.registry} has no image for ${formatPlatform(platform)}${available.length ? ` (available: ${[...new Set(available)].join(', ')})` : ''}`,
    );
  }
  const child = await getManifest(client, chosen.digest);
  if (child.digest !== chosen.digest) throw badDigest(client, 'a manifest', chosen.digest, child.digest);
  return { manifest: checkImageManifest(client, child), index };
}

function checkImageManifest(client: RegistryClient, m: RemoteManifest): RemoteManifest & { json: ImageManifest } {
  const json = m.json as ImageManifest;
  if (!isManifestMediaType(m.mediaType) || !json.config || !Array.isArray(json.layers)) {
    throw new RegistryError('UNSUPPORTED_MANIFEST', `${client.label} on ${client.registry} is not a container image (media type ${m.mediaType})`);
  }
  for (const d of [json.config, ...json.layers]) {
    if (typeof d.digest !== 'string' || !isDigest(d.digest) || typeof d.size !== 'number') {
      throw new RegistryError('UNSUPPORTED_MANIFEST', `${client.label} on ${client.registry}: manifest names a blob with an unsupported digest or no size (${String(d.digest)})`);
    }
  }
  return m as RemoteManifest & { json: ImageManifest };
}
