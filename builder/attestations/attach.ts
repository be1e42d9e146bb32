// Attestations attached as BuildKit attaches them: an image index holding
// the image manifest and, beside it, an attestation manifest for platform
// unknown/unknown whose annotations name the image manifest it describes
// and whose one layer is the in-toto statement. Readers that pick a
// platform skip it; tools that look for attestations find it by
// `vnd.docker.reference.type` (see image/platform.ts for our own reader).
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import type { AttachedIndex } from '../image/oci-layout.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../image/types.js';
import { MediaType } from '../image/types.js';
import { IN_TOTO_MEDIA_TYPE } from './provenance.js';

export const REFERENCE_TYPE = 'vnd.docker.reference.type';
export const REFERENCE_DIGEST = 'vnd.docker.reference.digest';
export const ATTESTATION_MANIFEST = 'attestation-manifest';
export const PREDICATE_TYPE = 'in-toto.io/predicate-type';

async function put(store: ContentStore, mediaType: string, value: unknown, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  return { mediaType, digest: (await store.putBuffer(bytes)) as Digest, size: bytes.length, ...extra };
}

/** Store the statements' blobs, the attestation manifest and the index over `image`. */
export async function attachStatements(
  store: ContentStore,
  image: { digest: Digest; size: number; platform: Platform },
  statements: Array<{ predicateType: string; statement: unknown }>,
): Promise<AttachedIndex> {
  const layers = await Promise.all(statements.map((s) =>
    put(store, IN_TOTO_MEDIA_TYPE, s.statement, { annotations: { [PREDICATE_TYPE]: s.predicateType } })));
  // BuildKit's attestation config: no platform of its own, the statements as its "layers".
  const config = await put(store, MediaType.ociConfig, {
    architecture: 'unknown',
    os: 'unknown',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  });
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers };
  const attestation = await put(store, MediaType.ociManifest, manifest, {
    annotations: { [REFERENCE_DIGEST]: image.digest, [REFERENCE_TYPE]: ATTESTATION_MANIFEST },
    platform: { architecture: 'unknown', os: 'unknown' },
  });
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [{ mediaType: MediaType.ociManifest, digest: image.digest, size: image.size, platform: image.platform }, attestation],
  };
  return { index: await put(store, MediaType.ociIndex, index), attestation, blobs: [config, ...layers] };
}
