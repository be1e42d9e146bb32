// type=registry (and --push): stored and tagged locally, then pushed under every name.
import { UsageError } from '../errors.js';
import { compressionOf, namesOf } from './attrs.js';
import type { ExporterFactory, PushedManifest } from './types.js';

export const registryExporter: ExporterFactory = (attrs, ctx) => {
  const names = namesOf(attrs, ctx.tags);
  if (names.length === 0) throw new UsageError('tag is needed when pushing to registry (use -t NAME:TAG or --output type=registry,name=NAME:TAG)');
  const compression = compressionOf(attrs);
  if (compression.compression === 'uncompressed') throw new UsageError('a registry push needs compressed layers (compression=gzip or zstd)');
  return {
    type: 'registry',
    taskName: 'exporting to image',
    async export(image, store, io) {
      await store.images.add(image.manifestDigest);
      // The registry client loads only when an image is pushed.
      const { pushImage, loadRegistrySettings } = await import('../registry/index.js');
      const settings = await loadRegistrySettings(store.paths.root);
      let last: PushedManifest | undefined;
      for (const name of names) {
        await store.images.tag(name, image.manifestDigest);
        const pushed = await pushImage(store.content, store.images, image.manifestDigest, name, { settings, compression, ...(io.attach ? { attach: io.attach } : {}) });
        io.log(`pushing ${pushed.ref}@${pushed.digest} done`);
        last = { digest: pushed.digest, size: pushed.size, mediaType: pushed.mediaType };
      }
      return { pushed: last };
    },
  };
};
