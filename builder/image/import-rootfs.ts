// `tsbuild import ROOTFS.tar [NAME]`: a one-layer image from a root
// filesystem tar (plain or gzip), with the host's os/arch, like
// `docker import`. The tar is checked to be a well-formed tar; unsafe
// entries inside it are the unpacker's business (applyLayer refuses them).

import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { TarReader } from '../../cache/tar-reader.js';
import type { ContentStore } from '../../cache/content-store.js';
import { ImageError } from './errors.js';
import { buildImage, type ImageDescription } from './image.js';
import { sniffFileCompression } from './layer-digest.js';
import { storeLayerFile } from './layer-blob.js';
import type { ImageStore } from './store.js';
import { AddedBlobs } from './added-blobs.js';
import { checkLayerStack, type LayerEntry } from './layer-stack-check.js';
import type { ContainerConfig, ImageLayer, Platform } from './types.js';

export interface ImportRootfsOptions {
  /** Runtime config of the image (`docker import --change` results). */
  config?: ContainerConfig;
  /** History comment; default `Imported from <file name>`. */
  message?: string;
  /** Default: the host platform. */
  platform?: Platform;
  created?: string;
}

// Reads every header and all the data through the project's tar reader, so
// a truncated or corrupt archive is refused before anything is stored.
async function assertWellFormedTar(file: string): Promise<void> {
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream: Readable = await sniffFileCompression(file) === 'gzip' ? input.pipe(createGunzip()) : input;
  input.on('error', (e) => stream.destroy(e));
  try {
    const reader = new TarReader(stream);
    while (await reader.next()) { /* next() skips each entry's data */ }
    await reader.drain();
  } catch (e) {
    throw new ImageError('INVALID_ARCHIVE', `${file}: not a valid tar archive (${(e as Error).message})`);
  } finally {
    input.destroy();
    stream.destroy();
  }
}

/** Import a rootfs tar (a path, or a stream such as stdin) as a one-layer image; tag it when `ref` is given. */
export async function importRootfs(
  store: ContentStore,
  images: ImageStore,
  source: string | Readable,
  ref?: string,
  opts: ImportRootfsOptions = {},
): Promise<ImageDescription> {
  let file: string;
  let cleanup = async (): Promise<void> => {};
  if (typeof source === 'string') {
    file = source;
  } else {
    file = await store.newTempPath('import');
    cleanup = () => fs.rm(file, { force: true });
    await pipeline(source, createWriteStream(file));
  }
  try {
    await assertWellFormedTar(file);
    const added = new AddedBlobs(store);
    const entries: LayerEntry[] = [];
    let layer: ImageLayer;
    try {
      layer = await storeLayerFile(store, file, added, entries);
      // What load and du --check judge too: a rootfs writing through its own symlinks would only fail when used.
      const [problem] = checkLayerStack([{ label: 'the rootfs tar', entries }]);
      if (problem) throw new ImageError('INVALID_ARCHIVE', `${typeof source === 'string' ? source : 'stdin'}: ${problem}`);
    } catch (e) {
      await added.discard();
      throw e;
    }
    const created = opts.created ?? new Date().toISOString();
    const image = await buildImage(store, {
      containerConfig: opts.config ?? {},
      layers: [layer],
      history: [{ created, comment: opts.message ?? `Imported from ${typeof source === 'string' ? path.basename(source) : '-'}` }],
      created,
      ...(opts.platform ? { platform: opts.platform } : {}),
    });
    if (ref) await images.tag(ref, image.manifestDigest);
    else await images.add(image.manifestDigest);
    return image;
  } finally {
    await cleanup();
  }
}
