// What an OCI image layout holds for a set of exported images: the
// `oci-layout` marker, `index.json` naming each image, and the blobs.
// Shared by the OCI exporters (directory and tar) and the docker-archive
// exporter, which writes the same layout plus Docker's manifest.json.

import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { hexOf } from '../../cache/digest.js';
import { prepareExport, type CompressionOptions, type PreparedImage } from './export-prepare.js';
import { platformOf } from './image.js';
import { formatReference, parseReference } from './reference.js';
import type { ArchiveEntry } from './archive-writer.js';
import type { Descriptor, ImageIndex } from './types.js';
import { Annotation, MediaType } from './types.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_CONTENT = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));

/** One image to export and the names to give it (any form `parseReference` accepts). */
export interface ExportImage {
  manifestDigest: Digest;
  names?: string[];
}

export interface ExportedImage {
  /** Digest of the manifest as written (may differ from the stored one when layers were recompressed). */
  manifestDigest: Digest;
  configDigest: Digest;
  /** Full normalised names written. */
  names: string[];
  image: PreparedImage;
  /** Attestations attached: the layout names this index (image + attestation manifests) instead of the manifest. */
  attached?: AttachedIndex;
}

/** An index over an exported manifest and its attestation manifest (made by builder/attestations/). */
export interface AttachedIndex {
  /** The index to name instead of the image manifest. */
  index: Descriptor;
  /** The attestation manifest inside it. */
  attestation: Descriptor;
  /** Its config and statement layers (the blobs an exporter writes or pushes besides the image's). */
  blobs: Descriptor[];
}

/** Wraps an exported manifest into an index with its attestations (see attestations/attach.ts). */
export type AttachFn = (image: { digest: Digest; size: number; names: string[]; image: PreparedImage }) => Promise<AttachedIndex | undefined>;

export function blobPath(d: Digest): string {
  return `blobs/sha256/${hexOf(d)}`;
}

/** Normalise the names (validating them) before any work is done. */
export function normaliseNames(names: string[] | undefined): string[] {
  return [...new Set((names ?? []).map((n) => formatReference(parseReference(n))))];
}

/** Convert every image's layers as asked; images share the work through the memo. */
export async function prepareImages(store: ContentStore, images: ExportImage[], opts: CompressionOptions & { attach?: AttachFn }): Promise<ExportedImage[]> {
  const named = images.map((img) => ({ ...img, names: normaliseNames(img.names) }));
  const out: ExportedImage[] = [];
  for (const img of named) {
    const image = await prepareExport(store, img.manifestDigest, opts);
    const attached = await opts.attach?.({ digest: image.manifestDigest, size: image.manifestSize, names: img.names, image });
    out.push({ manifestDigest: image.manifestDigest, configDigest: image.configDigest, names: img.names, image, ...(attached ? { attached } : {}) });
  }
  return out;
}

/** index.json descriptors: one per name (umoci/skopeo find `:tag` by ref.name, containerd by the full name). */
export function indexDescriptors(exported: ExportedImage): Descriptor[] {
  const base: Descriptor = exported.attached
    ? { mediaType: MediaType.ociIndex, digest: exported.attached.index.digest, size: exported.attached.index.size }
    : { mediaType: MediaType.ociManifest, digest: exported.manifestDigest, size: exported.image.manifestSize, platform: platformOf(exported.image.config) };
  if (exported.names.length === 0) return [base];
  return exported.names.map((name) => {
    const ref = parseReference(name);
    return { ...base, annotations: { [Annotation.containerdName]: name, [Annotation.refName]: ref.tag ?? 'latest' } };
  });
}

export function buildIndex(exported: ExportedImage[], previous: Descriptor[] = []): ImageIndex {
  const fresh = exported.flatMap(indexDescriptors);
  const replacedNames = new Set(fresh.map((d) => d.annotations?.[Annotation.containerdName]).filter((n): n is string => !!n));
  // Keep what an existing layout already held, except entries our names now replace.
  const kept = previous.filter((d) => {
    const name = d.annotations?.[Annotation.containerdName];
    return !(name && replacedNames.has(name)) && !fresh.some((f) => f.digest === d.digest && !f.annotations && !d.annotations);
  });
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...kept, ...fresh] };
}

/** Every blob the images need: configs, layers, manifests; each once. */
export function blobsOf(exported: ExportedImage[]): Array<{ digest: Digest; size: number }> {
  const blobs = new Map<Digest, number>();
  for (const { image, attached } of exported) {
    if (attached) {
      for (const d of [attached.index, attached.attestation, ...attached.blobs]) blobs.set(d.digest, d.size);
    }
    blobs.set(image.manifestDigest, image.manifestSize);
    blobs.set(image.configDigest, image.manifest.config.size);
    for (const l of image.layers) blobs.set(l.digest, l.size);
  }
  return [...blobs].map(([digest, size]) => ({ digest, size }));
}

/** Tar entries for an OCI layout of `exported` (blobs streamed from the store and verified as read). */
export function layoutEntries(store: ContentStore, exported: ExportedImage[]): ArchiveEntry[] {
  const index = buildIndex(exported);
  return [
    { name: OCI_LAYOUT_FILE, data: OCI_LAYOUT_CONTENT },
    { name: 'index.json', data: Buffer.from(JSON.stringify(index)) },
    ...blobsOf(exported).map(({ digest, size }) => ({ name: blobPath(digest), size, open: () => store.openRead(digest) })),
  ];
}
