// `--metadata-file`: what buildx writes, field for field. After a push the
// digest is the one the registry serves (its manifest names compressed
// layers), so deploying or signing by it works; names are normalised.
import { randomBytes } from '../../runner-native/native-crypto.js';
import type { ImageDescription } from '../image/image.js';
import { formatReference, parseReference } from '../image/reference.js';
import type { PushedManifest } from '../exporters/types.js';

export function buildMetadata(tags: readonly string[], image: ImageDescription, manifestSize: number, pushed: PushedManifest | undefined): Record<string, unknown> {
  const names = tags.map((t) => formatReference(parseReference(t)));
  const descriptor = pushed ?? { mediaType: image.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size: manifestSize };
  const data: Record<string, unknown> = {
    // buildx: <builder>/<node>/<build ref>; tsbuild has one local builder.
    'buildx.build.ref': `tsbuild/local/${randomBytes(13).toString('hex').slice(0, 25)}`,
    'containerimage.config.digest': image.configDigest,
    'containerimage.descriptor': { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size },
    'containerimage.digest': descriptor.digest,
  };
  if (names.length > 0) data['image.name'] = names.join(',');
  return data;
}
