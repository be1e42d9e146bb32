// Base images for FROM and COPY --from come from the local image store.
// (Pulling from registries is the registry client's job; until a ref is in
// the store, the build says so in one line.)
import type { BaseImage, Platform } from '../../frontend/graph/types.js';
import { readImage } from '../image/image.js';
import { formatPlatform } from '../image/platform.js';
import type { Store } from './open-store.js';

export class ImageNotFoundError extends Error {
  readonly userError = true;
  readonly code = 'IMAGE_NOT_FOUND';
}

export function localImageResolver(store: Store) {
  return async (ref: string, platform: Platform): Promise<BaseImage> => {
    let resolved;
    try {
      resolved = await store.images.resolve(ref);
    } catch {
      throw new ImageNotFoundError(`${ref}: image not found in the local store (${store.paths.root}); load it with "tsbuild load" or "tsbuild import" (pulling from registries is not supported yet)`);
    }
    const image = await readImage(store.content, resolved.manifestDigest);
    const got: Platform = { os: image.config.os, architecture: image.config.architecture, ...(image.config.variant ? { variant: image.config.variant } : {}) };
    if (got.os !== platform.os || got.architecture !== platform.architecture) {
      throw new ImageNotFoundError(`${ref}: the local image is for ${formatPlatform(got)}, not ${formatPlatform(platform)}`);
    }
    return {
      ref,
      digest: resolved.manifestDigest,
      platform: got,
      config: (image.config.config ?? {}) as BaseImage['config'],
      history: (image.config.history ?? []).map((h) => ({ ...(h.created ? { created: h.created } : {}), created_by: h.created_by ?? '', ...(h.comment ? { comment: h.comment } : {}), ...(h.empty_layer ? { empty_layer: true } : {}) })),
    };
  };
}
