// Data behind `tsbuild history` and `tsbuild inspect`, shaped like Docker's
// output so users (and scripts) find the fields they expect. Printing is
// the CLI's job.

import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { layerContentSizes } from './content-size.js';
import { readImage, type ImageDescription } from './image.js';
import { familiarName, parseReference } from './reference.js';
import type { ImageStore } from './store.js';
import type { ContainerConfig } from './types.js';

export interface HistoryRow {
  /** Image id on the newest row, `<missing>` elsewhere (as Docker shows for non-local parents). */
  id: string;
  created: string;
  createdBy: string;
  /** Uncompressed bytes of the files of the layer this step added (docker's count); 0 for metadata-only steps. */
  size: number;
  comment: string;
  emptyLayer: boolean;
}

/** Newest first, one row per history entry; layers are matched to non-empty entries in order. */
export function imageHistory(image: ImageDescription, layerSizes?: number[]): HistoryRow[] {
  const sizes = layerSizes ?? image.layers.map((l) => l.size);
  const history = image.config.history ?? [];
  let layerIndex = 0;
  const rows = history.map((h) => {
    const emptyLayer = h.empty_layer === true;
    const size = emptyLayer ? 0 : sizes[layerIndex++] ?? 0;
    return {
      id: '<missing>',
      created: h.created ?? '',
      createdBy: h.created_by ?? '',
      size,
      comment: h.comment ?? '',
      emptyLayer,
    };
  });
  // Images without history (rare) still show their layers.
  if (history.length === 0) {
    sizes.forEach((size) => rows.push({ id: '<missing>', created: '', createdBy: '', size, comment: '', emptyLayer: false }));
  }
  rows.reverse();
  if (rows[0]) rows[0].id = image.configDigest;
  return rows;
}

/** Docker's human sizes: decimal units, 3 significant digits: `0B`, `4.26MB`, `1.2kB`. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(3))}${units[unit]}`;
}

export interface InspectResult {
  Id: Digest;
  RepoTags: string[];
  RepoDigests: string[];
  Created: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  /** The comment of the newest history entry (`buildkit.dockerfile.v0` for our builds), as docker shows it. */
  Comment: string;
  /** Bytes of the files the layers hold, uncompressed, as docker counts them. */
  Size: number;
  RootFS: { Type: string; Layers: Digest[] };
  Metadata: { ManifestDigest: Digest };
}

export function inspectData(image: ImageDescription, names: string[], repoDigests: string[] = [], layerSizes?: number[]): InspectResult {
  const refs = names.map((n) => parseReference(n));
  const sizes = layerSizes ?? image.layers.map((l) => l.size);
  const result: InspectResult = {
    Id: image.configDigest,
    RepoTags: refs.map((r) => familiarName(r)),
    // What a registry serves this image as (learnt by push and pull): the
    // local manifest names uncompressed layers no registry has.
    RepoDigests: repoDigests.map((r) => familiarName(parseReference(r))),
    Created: image.config.created ?? '',
    Author: image.config.author ?? '',
    Config: image.config.config ?? {},
    Architecture: image.config.architecture,
    Os: image.config.os,
    Comment: image.config.history?.at(-1)?.comment ?? '',
    Size: sizes.reduce((sum, n) => sum + n, 0),
    RootFS: { Type: image.config.rootfs.type, Layers: image.config.rootfs.diff_ids },
    Metadata: { ManifestDigest: image.manifestDigest },
  };
  if (image.config.variant) result.Variant = image.config.variant;
  return result;
}

/** Resolve `refOrId` in the store and describe it the way `docker inspect` does. */
export async function inspectImage(store: ContentStore, images: ImageStore, refOrId: string): Promise<InspectResult> {
  const found = await images.resolve(refOrId);
  const image = await readImage(store, found.manifestDigest);
  const sizes = await layerContentSizes(store, image.layers.map((l) => l.digest), images.contentSizeMemoDir);
  return inspectData(image, found.tags, found.repoDigests, sizes);
}

/** History rows of an image resolved by name or id. */
export async function historyOf(store: ContentStore, images: ImageStore, refOrId: string): Promise<HistoryRow[]> {
  const found = await images.resolve(refOrId);
  const image = await readImage(store, found.manifestDigest);
  return imageHistory(image, await layerContentSizes(store, image.layers.map((l) => l.digest), images.contentSizeMemoDir));
}

