// OCI image layout exporters: a directory (merged into an existing layout,
// like `umoci`/`skopeo copy oci:DIR:tag` do) and a tar of that layout.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { ContentStore } from '../../cache/content-store.js';
import type { CompressionOptions } from './export-prepare.js';
import { readJsonIfExists, tempPathFor, writeFileAtomic } from './fs-util.js';
import { mapLimit } from '../concurrency.js';
import {
  blobPath,
  blobsOf,
  buildIndex,
  layoutEntries,
  OCI_LAYOUT_CONTENT,
  OCI_LAYOUT_FILE,
  prepareImages,
  type AttachFn,
  type ExportedImage,
  type ExportImage,
} from './oci-layout.js';
import { writeTar, writeTarFile, type TarWriteOptions } from './archive-writer.js';
import type { ImageIndex } from './types.js';

export type ExportOptions = CompressionOptions & TarWriteOptions & { attach?: AttachFn };

function asList(images: ExportImage | ExportImage[]): ExportImage[] {
  return Array.isArray(images) ? images : [images];
}

/** Write (or add to) an OCI layout directory. Existing blobs are kept; index.json is replaced atomically. */
export async function exportOciDir(
  store: ContentStore,
  images: ExportImage | ExportImage[],
  destDir: string,
  opts: ExportOptions = {},
): Promise<ExportedImage[]> {
  const exported = await prepareImages(store, asList(images), opts);
  const blobDir = path.join(destDir, 'blobs', 'sha256');
  await fs.mkdir(blobDir, { recursive: true });
  await mapLimit(blobsOf(exported), os.availableParallelism(), async ({ digest, size }) => {
    const target = path.join(destDir, blobPath(digest));
    const existing = await fs.stat(target).catch(() => undefined);
    if (existing?.isFile() && existing.size === size) return; // content-addressed: same name, same bytes
    const tmp = tempPathFor(target);
    try {
      await fs.copyFile(store.path(digest), tmp);
      await fs.chmod(tmp, 0o644);
      await fs.rename(tmp, target);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  });
  await writeFileAtomic(path.join(destDir, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT);
  const previous = await readJsonIfExists<ImageIndex>(path.join(destDir, 'index.json'));
  const index = buildIndex(exported, previous?.manifests ?? []);
  // index.json last: a reader never sees a name whose blobs are not all there.
  await writeFileAtomic(path.join(destDir, 'index.json'), JSON.stringify(index));
  return exported;
}

/** Write an OCI layout as a tar (`oci-archive:`), to a file (atomically) or a stream. */
export async function exportOciTar(
  store: ContentStore,
  images: ExportImage | ExportImage[],
  dest: string | Writable,
  opts: ExportOptions = {},
): Promise<ExportedImage[]> {
  const exported = await prepareImages(store, asList(images), opts);
  const entries = layoutEntries(store, exported);
  if (typeof dest === 'string') await writeTarFile(dest, entries, opts);
  else await writeTar(dest, entries, opts);
  return exported;
}
