// type=oci: an OCI image layout, as a tar (default) or a directory (tar=false).
import { familiarName, parseReference } from '../image/reference.js';
import { compressionOf, destOf, namesOf, targetOf } from './attrs.js';
import type { ExporterFactory } from './types.js';

export const ociExporter: ExporterFactory = (attrs, ctx) => {
  const names = namesOf(attrs, ctx.tags).map((n) => familiarName(parseReference(n)));
  const dest = destOf('oci', attrs);
  const compression = compressionOf(attrs);
  const asDir = attrs.get('tar') === 'false';
  return {
    type: 'oci',
    taskName: 'exporting to oci image format',
    async export(image, store, io) {
      // Exporters load on demand: the default output (the local store) needs none of them.
      const { exportOciTar, exportOciDir } = await import('../image/export-oci.js');
      const opts = { ...compression, ...(io.attach ? { attach: io.attach } : {}) };
      if (asDir) await exportOciDir(store.content, { manifestDigest: image.manifestDigest, names }, dest, opts);
      else await exportOciTar(store.content, { manifestDigest: image.manifestDigest, names }, await targetOf(dest, 'oci', io), opts);
      io.log(`exporting oci image to ${dest} done`);
    },
  };
};
