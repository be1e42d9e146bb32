// `run --pull missing|always|never`: docker's default (missing) pulls an
// image the store lacks before creating the container; progress goes to
// stderr so `run -d` still prints only the container id on stdout.
import type { Store } from '../store/open-store.js';
import { hostPlatform } from '../image/platform.js';
import { ContainerError } from './errors.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export function parsePullPolicy(text: string): PullPolicy {
  if (text === 'missing' || text === 'always' || text === 'never') return text;
  throw new ContainerError('INVALID_RUN_OPTION', `invalid pull option: '${text}': must be one of "always", "missing" or "never"`);
}

export async function ensureImage(store: Store, image: string, policy: PullPolicy): Promise<void> {
  if (policy !== 'always' && (await store.images.tryResolve(image))) return;
  if (policy === 'never') throw new ContainerError('NO_SUCH_IMAGE', `No such image: ${image}`);
  // an image id can only come from the local store
  if (/^(sha256:)?[0-9a-f]{12,64}$/.test(image)) throw new ContainerError('NO_SUCH_IMAGE', `No such image: ${image}`);
  if (policy === 'missing') process.stderr.write(`Unable to find image '${image}' locally\n`);
  const { pullImage } = await import('../registry/index.js');
  try {
    const result = await pullImage(store.content, store.images, image, {
      platform: hostPlatform(),
      onProgress: (e) => {
        if (e.kind === 'layer' && e.phase === 'done') process.stderr.write(`${e.digest.slice(7, 19)}: Pull complete\n`);
      },
    });
    process.stderr.write(`Digest: ${result.manifestDigest}\nStatus: Downloaded newer image for ${result.ref}\n`);
  } catch (err) {
    throw new ContainerError('NO_SUCH_IMAGE', `Unable to pull ${image}: ${(err as Error).message}`);
  }
}
