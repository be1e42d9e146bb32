// Base images for FROM and COPY --from: the local store first, as docker's
// default builder does; what it lacks is pulled from its registry (once,
// under a lock, so concurrent builds share one pull). --pull always asks
// the registry for the newest manifest.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { BaseImage, Platform } from '../../frontend/graph/types.js';
import { readImage } from '../image/image.js';
import { withLock } from '../image/lock.js';
import { formatPlatform } from '../image/platform.js';
import type { ProgressWriter } from '../progress/index.js';
import type { Store } from '../store/open-store.js';

export class ImageNotFoundError extends Error {
  readonly userError = true;
  readonly code = 'IMAGE_NOT_FOUND';
}

export interface ResolverOptions {
  pull: boolean;                   // --pull: refresh from the registry even when the store has the image
  progress?: ProgressWriter;
}

function sameOsArch(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture;
}

async function fromStore(store: Store, ref: string, platform: Platform): Promise<BaseImage | undefined> {
  const resolved = await store.images.tryResolve(ref);
  if (!resolved) return undefined;
  const image = await readImage(store.content, resolved.manifestDigest);
  const got: Platform = { os: image.config.os, architecture: image.config.architecture, ...(image.config.variant ? { variant: image.config.variant } : {}) };
  if (!sameOsArch(got, platform)) {
    throw new ImageNotFoundError(`${ref}: the local image is for ${formatPlatform(got)}, not ${formatPlatform(platform)}`);
  }
  return {
    ref,
    digest: resolved.manifestDigest,
    platform: got,
    config: (image.config.config ?? {}) as BaseImage['config'],
    history: (image.config.history ?? []).map((h) => ({
      ...(h.created ? { created: h.created } : {}),
      created_by: h.created_by ?? '',
      ...(h.comment ? { comment: h.comment } : {}),
      ...(h.empty_layer ? { empty_layer: true } : {}),
    })),
  };
}

async function pull(store: Store, ref: string, platform: Platform, progress?: ProgressWriter): Promise<void> {
  const { pullImage, loadRegistrySettings } = await import('../registry/index.js');
  const task = progress?.task(`[internal] load metadata for ${ref}`);
  const lockName = createHash('sha256').update(ref).digest('hex').slice(0, 32);
  try {
    await withLock(path.join(store.paths.state, `pull-${lockName}.lock`), async () => {
      const result = await pullImage(store.content, store.images, ref, { platform, settings: await loadRegistrySettings(store.paths.root) });
      task?.log(`pulled ${result.ref}@${result.manifestDigest}`);
    }, { timeoutMs: 30 * 60 * 1000 });
    task?.done();
  } catch (err) {
    task?.fail(err);
    throw err;
  }
}

export function imageResolver(store: Store, opts: ResolverOptions) {
  const pulled = new Map<string, Promise<void>>();
  return async (ref: string, platform: Platform): Promise<BaseImage> => {
    if (!opts.pull) {
      const local = await fromStore(store, ref, platform);
      if (local) return local;
    }
    // One pull per reference per build, however many stages name it.
    let p = pulled.get(ref);
    if (!p) {
      p = pull(store, ref, platform, opts.progress);
      pulled.set(ref, p);
    }
    await p;
    const image = await fromStore(store, ref, platform);
    if (!image) throw new ImageNotFoundError(`${ref}: pulled, but not found in the local store afterwards`);
    return image;
  };
}
