// type=docker: a `docker load` tarball (which carries the OCI layout too).
import { familiarName, parseReference } from '../image/reference.js';
import { compressionOf, destOf, namesOf, targetOf } from './attrs.js';
import type { ExporterFactory } from './types.js';

export const dockerExporter: ExporterFactory = (attrs, ctx) => {
  const names = namesOf(attrs, ctx.tags).map((n) => familiarName(parseReference(n)));
  const dest = destOf('docker', attrs);
  const compression = compressionOf(attrs);
  return {
    type: 'docker',
    taskName: 'exporting to docker image format',
    async export(image, store, io) {
      const { exportDockerArchive } = await import('../image/export-docker.js');
      await exportDockerArchive(store.content, { manifestDigest: image.manifestDigest, names }, await targetOf(dest, 'docker', io), { ...compression, ...(io.attach ? { attach: io.attach } : {}) });
      io.log(`exporting docker image to ${dest} done`);
    },
  };
};
