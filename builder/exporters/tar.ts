// type=tar: the final filesystem as one tar (dest=- for the caller's stream).
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { mountPointName } from '../snapshots/overlay.js';
import { destOf, targetOf } from './attrs.js';
import { unpackImage } from './rootfs.js';
import type { ExporterFactory } from './types.js';

export const tarExporter: ExporterFactory = (attrs) => {
  const dest = destOf('tar', attrs);
  return {
    type: 'tar',
    taskName: 'exporting to tar image format',
    async export(image, store, io) {
      const tmp = path.join(store.paths.state, mountPointName('rootfs'));
      await mkdir(tmp, { recursive: true });
      try {
        await unpackImage(store, image, tmp);
        const { tarFromDir } = await import('../../cache/layer-diff.js');
        const target = await targetOf(dest, 'tar', io);
        await tarFromDir(tmp, typeof target === 'string' ? createWriteStream(target) : target, {});
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      io.log(`copying files to ${dest} done`);
    },
  };
};
