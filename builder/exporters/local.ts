// type=local: the final filesystem written into a directory of this host.
import { mkdir } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { destOf } from './attrs.js';
import { unpackImage } from './rootfs.js';
import type { ExporterFactory } from './types.js';

export const localExporter: ExporterFactory = (attrs) => {
  const dest = destOf('local', attrs);
  if (dest === '-') throw new UsageError('--output type=local needs dest=<path>');
  return {
    type: 'local',
    taskName: 'exporting to client directory',
    async export(image, store, io) {
      await mkdir(dest, { recursive: true });
      await unpackImage(store, image, dest);
      io.log(`copying files to ${dest} done`);
    },
  };
};
