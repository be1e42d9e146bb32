// docker-archive exporter (`docker load` input). Like `docker save` since
// Docker 25, one tar carries both an OCI layout and Docker's manifest.json,
// whose Config and Layers point into blobs/sha256/, so the blobs are
// stored once and both OCI tools and `docker load` read the same file.

import type { Writable } from 'node:stream';
import type { ContentStore } from '../../cache/content-store.js';
import { hexOf } from '../../cache/digest.js';
import { type ExportOptions } from './export-oci.js';
import { blobPath, layoutEntries, prepareImages, type ExportedImage, type ExportImage } from './oci-layout.js';
import { familiarName, familiarRepository, parseReference } from './reference.js';
import { writeTar, writeTarFile } from './archive-writer.js';

/** One entry of Docker's manifest.json. */
export interface DockerManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

export function dockerManifest(exported: ExportedImage[]): DockerManifestEntry[] {
  return exported.map(({ image, names }) => ({
    Config: blobPath(image.configDigest),
    RepoTags: names.length > 0 ? names.map((n) => familiarName(parseReference(n))) : null,
    Layers: image.layers.map((l) => blobPath(l.digest)),
  }));
}

/** The legacy `repositories` file: {repo: {tag: top layer id}}; old `docker load` versions read it. */
export function dockerRepositories(exported: ExportedImage[]): Record<string, Record<string, string>> {
  const repos: Record<string, Record<string, string>> = {};
  for (const { image, names } of exported) {
    const top = image.layers.at(-1);
    if (!top) continue;
    for (const name of names) {
      const ref = parseReference(name);
      (repos[familiarRepository(ref)] ??= {})[ref.tag ?? 'latest'] = hexOf(top.diffId);
    }
  }
  return repos;
}

export async function exportDockerArchive(
  store: ContentStore,
  images: ExportImage | ExportImage[],
  dest: string | Writable,
  opts: ExportOptions = {},
): Promise<ExportedImage[]> {
  const exported = await prepareImages(store, Array.isArray(images) ? images : [images], opts);
  const entries = [
    ...layoutEntries(store, exported),
    { name: 'manifest.json', data: Buffer.from(JSON.stringify(dockerManifest(exported))) },
  ];
  const repositories = dockerRepositories(exported);
  if (Object.keys(repositories).length > 0) entries.push({ name: 'repositories', data: Buffer.from(JSON.stringify(repositories)) });
  if (typeof dest === 'string') await writeTarFile(dest, entries, opts);
  else await writeTar(dest, entries, opts);
  return exported;
}
