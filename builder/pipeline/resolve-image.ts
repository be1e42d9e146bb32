// Base images for FROM and COPY --from: the local store first, as docker's
// default builder does; what it lacks is pulled from its registry (once,
// under a lock, so concurrent builds share one pull). --pull always asks
// the registry for the newest manifest. `--call` modes need only configs:
// like BuildKit they fetch the manifest and config of what the store lacks,
// store nothing, and with `offline` contact no registry at all (a missing
// base image is then checked with an empty config, and a note says so).
import { createHash } from '../../runner-native/native-crypto.js';
import path from 'node:path';
import type { BaseImage, Platform } from '../../frontend/graph/types.js';
import type { Digest } from '../../cache/digest.js';
import { readImage } from '../image/image.js';
import { withLock } from '../image/lock.js';
import { formatPlatform } from '../image/platform.js';
import type { ImageConfig } from '../image/types.js';
import type { ProgressTask, ProgressWriter } from '../progress/index.js';
import type { TransferEvent } from '../registry/progress.js';
import { humanSize } from '../image/inspect.js';
import type { Store } from '../store/open-store.js';

export class ImageNotFoundError extends Error {
  readonly userError = true;
  readonly code = 'IMAGE_NOT_FOUND';
}

export interface ResolverOptions {
  pull: boolean;                   // --pull: refresh from the registry even when the store has the image
  progress?: ProgressWriter;
  /** Configs only (`--call`): never pull layers, store nothing. */
  configOnly?: boolean;
  /** TSBUILD_OFFLINE: never contact a registry. */
  offline?: boolean;
  /** Where configOnly+offline says which base image it could not see. */
  note?: (message: string) => void;
}

function toBaseImage(ref: string, digest: string | undefined, config: ImageConfig): BaseImage {
  return {
    ref,
    ...(digest ? { digest } : {}),
    platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
    config: (config.config ?? {}) as BaseImage['config'],
    history: (config.history ?? []).map((h) => ({
      ...(h.created ? { created: h.created } : {}),
      created_by: h.created_by ?? '',
      ...(h.comment ? { comment: h.comment } : {}),
      ...(h.empty_layer ? { empty_layer: true } : {}),
    })),
  };
}

/** `--call` modes: the config from the store, else from the registry (nothing stored), else (offline) an empty one. */
async function configOf(store: Store, ref: string, platform: Platform, opts: ResolverOptions): Promise<BaseImage> {
  if (!opts.pull) {
    const local = await fromStore(store, ref, platform);
    if (local) return local;
  }
  if (opts.offline) {
    opts.note?.(`base image ${ref} is not in the local store and TSBUILD_OFFLINE is set: checked without its config`);
    return { ref, platform, config: {}, history: [] };
  }
  const { resolveRemote, loadRegistrySettings } = await import('../registry/index.js');
  const remote = await resolveRemote(ref, platform, { settings: await loadRegistrySettings(store.paths.root) });
  return toBaseImage(ref, remote.manifestDigest, remote.config);
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
  return toBaseImage(ref, resolved.manifestDigest, image.config);
}

async function pull(store: Store, ref: string, platform: Platform, progress?: ProgressWriter): Promise<void> {
  const { pullImage, loadRegistrySettings } = await import('../registry/index.js');
  const task = progress?.task(`[internal] load metadata for ${ref}`);
  const lockName = createHash('sha256').update(ref).digest('hex').slice(0, 32);
  try {
    await withLock(path.join(store.paths.state, `pull-${lockName}.lock`), async () => {
      // The bottom layer is unpacked while it downloads; what it unpacks to
      // must be the diff id the (verified) config names.
      let expect!: { resolve(d: Digest): void; reject(e: unknown): void };
      const bottomDiffId = new Promise<Digest>((resolve, reject) => (expect = { resolve, reject }));
      bottomDiffId.catch(() => undefined);
      try {
        const result = await pullImage(store.content, store.images, ref, {
          platform, settings: await loadRegistrySettings(store.paths.root),
          ...(task ? { onProgress: layerProgress(task) } : {}),
          onLayerTail: (layer, tail) => {
            if (layer.index === 0) return store.snapshots.unpackWhileDownloading(layer.digest, tail.chunks(), tail.downloaded, bottomDiffId);
          },
        });
        const bottom = (await readImage(store.content, result.manifestDigest)).layers[0];
        if (bottom) expect.resolve(bottom.diffId);
        else expect.reject(new Error('no layers'));
        task?.log(`pulled ${result.ref}@${result.manifestDigest}`);
      } catch (err) {
        expect.reject(err);
        throw err;
      }
    }, { timeoutMs: 30 * 60 * 1000 });
    task?.done();
  } catch (err) {
    task?.fail(err);
    throw err;
  }
}

// BuildKit's download lines, one status per layer, updated at most once a
// second (plain and rawjson print every update):
//   sha256:4abc... 12.58MB / 49.15MB 0.8s
//   sha256:4abc... 49.15MB / 49.15MB 2.1s done
const UPDATE_MS = 1000;
function layerProgress(task: ProgressTask): (e: TransferEvent) => void {
  const started = new Map<string, number>();
  const shown = new Map<string, number>();
  return (e) => {
    if (e.kind !== 'layer' || e.phase === 'exists') return;
    const now = Date.now();
    if (!started.has(e.digest)) started.set(e.digest, now);
    const done = e.phase === 'done';
    if (!done && now - (shown.get(e.digest) ?? 0) < UPDATE_MS) return;
    shown.set(e.digest, now);
    const secs = ((now - started.get(e.digest)!) / 1000).toFixed(1);
    task.log(`${e.digest} ${humanSize(done ? e.size : e.bytes)} / ${humanSize(e.size)} ${secs}s${done ? ' done' : ''}`, e.digest);
  };
}

export function imageResolver(store: Store, opts: ResolverOptions) {
  const pulled = new Map<string, Promise<void>>();
  return async (ref: string, platform: Platform): Promise<BaseImage> => {
    if (opts.configOnly) return configOf(store, ref, platform, opts);
    if (!opts.pull) {
      const local = await fromStore(store, ref, platform);
      if (local) return local;
    }
    if (opts.offline) throw new ImageNotFoundError(`${ref}: not in the local store, and TSBUILD_OFFLINE is set (no registry is contacted)`);
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
