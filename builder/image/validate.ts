// Self-consistency check of a stored image, in the spirit of
// go-containerregistry's `validate`: every blob is what its descriptor says
// (digest and size), the config's diff_ids are the uncompressed layers, and
// the history agrees with the number of layers, and the layers would
// apply (no escaping names, no writes through a symlinked parent, no
// invalid whiteouts: layer-stack-check.ts). Reports every problem found
// rather than stopping at the first, so one run tells the whole story.
// `du --check` reports with it; `load` and `pull` refuse with it, before
// they tag anything (assertValidImage).

import { createHash } from '../../runner-native/native-crypto.js';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { readImage, type ImageDescription } from './image.js';
import { ImageError } from './errors.js';
import { digestLayer } from './layer-digest.js';
import { checkLayerStack, type LayerEntry } from './layer-stack-check.js';
import { layerCompressionOf, type Descriptor } from './types.js';

export interface ValidationReport {
  valid: boolean;
  problems: string[];
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function checkSmallBlob(store: ContentStore, what: string, d: Descriptor, problems: string[]): Promise<void> {
  try {
    // Read the raw file rather than readBuffer(): we want to report a mismatch, not only fail on it.
    const bytes = await readFile(store.path(d.digest));
    if (sha256(bytes) !== d.digest) problems.push(`${what} ${d.digest}: content digest is ${sha256(bytes)}`);
    if (bytes.length !== d.size) problems.push(`${what} ${d.digest}: size is ${bytes.length}, descriptor says ${d.size}`);
  } catch (e) {
    problems.push(`${what} ${d.digest}: cannot read blob (${(e as Error).message})`);
  }
}

/**
 * A layer blob just downloaded and verified against its digest and size,
 * as a reader of its whole stream found it: no need to read it again.
 */
export interface LayerFacts {
  diffId: Digest;
  entries: LayerEntry[];
}

async function checkLayer(store: ContentStore, index: number, layer: ImageDescription['layers'][number], problems: string[], entries: LayerEntry[], known?: LayerFacts): Promise<void> {
  const what = `layer ${index} (${layer.digest})`;
  const compression = layerCompressionOf(layer.mediaType);
  if (!compression) {
    problems.push(`${what}: unknown layer media type ${layer.mediaType}`);
    return;
  }
  if (!(await store.has(layer.digest))) {
    problems.push(`${what}: blob missing from the content store`);
    return;
  }
  if (known) {
    if (known.diffId !== layer.diffId) problems.push(`${what}: uncompressed digest is ${known.diffId}, config diff_id is ${layer.diffId}`);
    entries.push(...known.entries);
    return;
  }
  try {
    // The raw file, not openRead(): its own verification would turn a mismatch into an opaque error.
    const got = await digestLayer(createReadStream(store.path(layer.digest)), compression, { entries });
    if (got.digest !== layer.digest) problems.push(`${what}: content digest is ${got.digest}`);
    if (got.size !== layer.size) problems.push(`${what}: size is ${got.size}, manifest says ${layer.size}`);
    if (got.diffId !== layer.diffId) problems.push(`${what}: uncompressed digest is ${got.diffId}, config diff_id is ${layer.diffId}`);
  } catch (e) {
    // Reading the entries failed; a blob that is not what the manifest names says more than its broken tar.
    const raw = await digestOfFile(store.path(layer.digest)).catch(() => undefined);
    if (raw && raw.digest !== layer.digest) {
      problems.push(`${what}: content digest is ${raw.digest}`);
      if (raw.size !== layer.size) problems.push(`${what}: size is ${raw.size}, manifest says ${layer.size}`);
    } else problems.push(`${what}: cannot read layer (${(e as Error).message})`);
  }
}

async function digestOfFile(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/**
 * Check the image whose manifest is `manifestDigest`. Never throws for a
 * broken image; lists its problems. `known`: layers already read whole
 * (by blob digest), see LayerFacts.
 */
export async function validateImage(store: ContentStore, manifestDigest: Digest, known: ReadonlyMap<Digest, LayerFacts> = new Map()): Promise<ValidationReport> {
  const problems: string[] = [];
  const manifestDescriptor: Descriptor = { mediaType: '', digest: manifestDigest, size: -1 };
  try {
    manifestDescriptor.size = (await stat(store.path(manifestDigest))).size;
  } catch {
    return { valid: false, problems: [`manifest ${manifestDigest}: blob missing from the content store`] };
  }
  await checkSmallBlob(store, 'manifest', manifestDescriptor, problems);
  if (problems.length > 0) return { valid: false, problems };

  let image: ImageDescription;
  try {
    image = await readImage(store, manifestDigest);
  } catch (e) {
    return { valid: false, problems: [(e as Error).message] };
  }
  await checkSmallBlob(store, 'config', image.manifest.config, problems);

  const diffIds = image.config.rootfs?.diff_ids ?? [];
  if (image.config.rootfs?.type !== 'layers') problems.push(`config: rootfs.type is ${String(image.config.rootfs?.type)}, want "layers"`);
  const history = image.config.history ?? [];
  const nonEmpty = history.filter((h) => !h.empty_layer).length;
  if (history.length > 0 && nonEmpty !== diffIds.length) {
    problems.push(`config: ${nonEmpty} non-empty history entries but ${diffIds.length} layers`);
  }
  if (!image.config.os || !image.config.architecture) problems.push('config: os and architecture are required');

  // Layers are independent; hash them in parallel (I/O and zlib overlap well).
  const perLayer: string[][] = image.layers.map(() => []);
  const entries: LayerEntry[][] = image.layers.map(() => []);
  await Promise.all(image.layers.map((layer, i) => checkLayer(store, i, layer, perLayer[i]!, entries[i]!, known.get(layer.digest))));
  problems.push(...perLayer.flat());
  // The stack check needs every layer readable: a layer that failed above already says why.
  if (perLayer.every((p) => p.length === 0)) {
    problems.push(...checkLayerStack(image.layers.map((l, i) => ({ label: `layer ${i} (${l.digest})`, entries: entries[i]! }))));
  }
  return { valid: problems.length === 0, problems };
}

/**
 * validateImage for an image about to be tagged (`load`, `pull`): throws a
 * one-line error naming the first problem (and how many more there are).
 */
export async function assertValidImage(store: ContentStore, manifestDigest: Digest, what: string, known?: ReadonlyMap<Digest, LayerFacts>): Promise<void> {
  const { problems } = await validateImage(store, manifestDigest, known);
  if (problems.length === 0) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  throw new ImageError('INVALID_IMAGE', `${what} is not a valid image: ${problems[0]}${more}`);
}
