// type=image (the default): the image goes into the local store, tagged
// with -t and name=; push=true also pushes it (as type=registry does).
import { namesOf } from './attrs.js';
import { registryExporter } from './registry.js';
import type { Exporter, ExporterFactory } from './types.js';

export const imageExporter: ExporterFactory = (attrs, ctx) => {
  if (attrs.get('push') === 'true') return registryExporter(attrs, ctx);
  const names = namesOf(attrs, ctx.tags);
  const exporter: Exporter = {
    type: 'image',
    taskName: 'exporting to image',
    // The store's index is written and fsynced while the blobs are, and
    // renamed in once they are (one round of fsyncs at the build's end
    // instead of two).
    startsBeforeBlobs: true,
    async export(image, store, io) {
      // Tagging registers the image too: one index update per name, none more.
      if (names.length === 0) await store.images.add(image.manifestDigest, image, io.blobsWritten);
      io.log(`writing image ${image.configDigest} done`);
      for (const name of names) {
        const full = await store.images.tag(name, image.manifestDigest, image, io.blobsWritten);
        io.log(`naming to ${full} done`);
      }
    },
  };
  return exporter;
};

