// Data behind `tsbuild history` and `tsbuild inspect`, shaped like Docker's
// output so users (and scripts) find the fields they expect. Printing is
// the CLI's job.

import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { readImage, type ImageDescription } from './image.js';
import { familiarName, parseReference } from './reference.js';
import type { ImageStore } from './store.js';
import type { ContainerConfig } from './types.js';

export interface HistoryRow {
  /** Image id on the newest row, `<missing>` elsewhere (as Docker shows for non-local parents). */
  id: string;
  created: string;
  createdBy: string;
  /** Bytes of the layer blob this step added; 0 for metadata-only steps. */
  size: number;
  comment: string;
  emptyLayer: boolean;
}

/** Newest first, one row per history entry; layers are matched to non-empty entries in order. */
export function imageHistory(image: ImageDescription): HistoryRow[] {
  const history = image.config.history ?? [];
  let layerIndex = 0;
  const rows = history.map((h) => {
    const emptyLayer = h.empty_layer === true;
    const layer = emptyLayer ? undefined : image.layers[layerIndex++];
    return {
      id: '<missing>',
      created: h.created ?? '',
      createdBy: h.created_by ?? '',
      size: layer?.size ?? 0,
      comment: h.comment ?? '',
      emptyLayer,
    };
  });
  // Images without history (rare) still show their layers.
  if (history.length === 0) {
    for (const l of image.layers) rows.push({ id: '<missing>', created: '', createdBy: '', size: l.size, comment: '', emptyLayer: false });
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
  Size: number;
  RootFS: { Type: string; Layers: Digest[] };
  Metadata: { ManifestDigest: Digest };
}

export function inspectData(image: ImageDescription, names: string[]): InspectResult {
  const refs = names.map((n) => parseReference(n));
  const result: InspectResult = {
    Id: image.configDigest,
    RepoTags: refs.map((r) => familiarName(r)),
    // Like Docker's containerd store: the local manifest digest under each repository.
    RepoDigests: [...new Set(refs.map((r) => `${familiarName({ ...r, tag: undefined })}@${image.manifestDigest}`))],
    Created: image.config.created ?? '',
    Author: image.config.author ?? '',
    Config: image.config.config ?? {},
    Architecture: image.config.architecture,
    Os: image.config.os,
    Size: image.layers.reduce((sum, l) => sum + l.size, 0),
    RootFS: { Type: image.config.rootfs.type, Layers: image.config.rootfs.diff_ids },
    Metadata: { ManifestDigest: image.manifestDigest },
  };
  if (image.config.variant) result.Variant = image.config.variant;
  return result;
}

/** Resolve `refOrId` in the store and describe it the way `docker inspect` does. */
export async function inspectImage(store: ContentStore, images: ImageStore, refOrId: string): Promise<InspectResult> {
  const found = await images.resolve(refOrId);
  return inspectData(await readImage(store, found.manifestDigest), found.tags);
}

/** History rows of an image resolved by name or id. */
export async function historyOf(store: ContentStore, images: ImageStore, refOrId: string): Promise<HistoryRow[]> {
  const found = await images.resolve(refOrId);
  return imageHistory(await readImage(store, found.manifestDigest));
}

