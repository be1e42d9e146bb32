// `tsbuild load`: import images from an OCI layout tar or a `docker save`
// tar into the local store. Every blob is checked against the digest that
// names it, every layer's uncompressed digest against the config's
// diff_ids, and archive paths named by manifests are refused if they point
// outside the archive. The archive is never extracted. Before any name is
// tagged, every loaded image passes the check `du --check` makes
// (validate.ts); if one fails, nothing is tagged and the blobs this load
// added are removed again.

import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { digestOf, isDigest } from '../../cache/digest.js';
import { safeMemberName, TarArchive } from './archive-reader.js';
import { ImageError } from './errors.js';
import { mapLimit } from '../concurrency.js';
import { storeManifest } from './image.js';
import { sniffCompression, sniffFileCompression } from './layer-digest.js';
import { storeLayerBlob } from './layer-blob.js';
import { AddedBlobs } from './added-blobs.js';
import { assertValidImage } from './validate.js';
import { formatPlatform, hostPlatform, selectManifest } from './platform.js';
import type { ImageStore } from './store.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageLayer, ImageManifest, Platform } from './types.js';
import { Annotation, isIndexMediaType, isManifestMediaType, layerCompressionOf } from './types.js';
import { formatReference, parseReference } from './reference.js';
import type { DockerManifestEntry } from './export-docker.js';

/** Layers hashed and stored at once; layer import is I/O and zlib bound. */
const LAYER_CONCURRENCY = Math.max(2, os.availableParallelism());

export interface LoadOptions {
  /** Which manifest to take from a multi-platform index; default the host's. */
  platform?: Platform;
}

export interface LoadedImage {
  manifestDigest: Digest;
  configDigest: Digest;
  /** Full normalised names tagged. */
  names: string[];
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw new ImageError('INVALID_ARCHIVE', `${what} is not valid JSON`);
  }
}

function blobName(d: string): string {
  if (!isDigest(d)) throw new ImageError('INVALID_ARCHIVE', `invalid digest ${JSON.stringify(d)} in archive`);
  return `blobs/sha256/${d.slice(7)}`;
}

/** Read a small blob of the OCI layout and check it is what the descriptor says. */
async function verifiedBlob(archive: TarArchive, d: Descriptor): Promise<Buffer> {
  const bytes = await archive.readBuffer(blobName(d.digest));
  const actual = digestOf(bytes);
  if (actual !== d.digest) throw new ImageError('DIGEST_MISMATCH', `archive blob ${d.digest} has content digest ${actual}`);
  if (typeof d.size === 'number' && bytes.length !== d.size) {
    throw new ImageError('DIGEST_MISMATCH', `archive blob ${d.digest} is ${bytes.length} bytes, descriptor says ${d.size}`);
  }
  return bytes;
}

function parseConfig(bytes: Buffer, what: string): ImageConfig {
  const config = parseJson<ImageConfig>(bytes, what);
  if (!config || typeof config !== 'object' || !Array.isArray(config.rootfs?.diff_ids)) {
    throw new ImageError('INVALID_ARCHIVE', `${what} is not an image config (no rootfs.diff_ids)`);
  }
  return config;
}

function checkDiffIds(layers: ImageLayer[], config: ImageConfig, what: string): void {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layers.length) {
    throw new ImageError('INVALID_ARCHIVE', `${what}: ${layers.length} layers but the config lists ${diffIds.length} diff_ids`);
  }
  layers.forEach((l, i) => {
    if (l.diffId !== diffIds[i]) {
      throw new ImageError('DIGEST_MISMATCH', `${what}: layer ${i} uncompressed digest is ${l.diffId}, config says ${diffIds[i]}`);
    }
  });
}

/** OCI layout: walk index.json (and nested indexes) down to one manifest per entry. */
async function manifestsOfIndex(archive: TarArchive, index: ImageIndex, platform: Platform | undefined, depth = 0): Promise<Descriptor[]> {
  if (depth > 4) throw new ImageError('INVALID_ARCHIVE', 'image indexes nested too deeply');
  const out: Descriptor[] = [];
  for (const d of index.manifests ?? []) {
    if (isManifestMediaType(d.mediaType)) {
      out.push(d);
    } else if (isIndexMediaType(d.mediaType)) {
      const nested = parseJson<ImageIndex>(await verifiedBlob(archive, d), `index ${d.digest}`);
      const chosen = selectManifest(nested, platform);
      if (!chosen) {
        throw new ImageError('IMAGE_NOT_FOUND', `index ${d.digest} has no manifest for platform ${formatPlatform(platform ?? hostPlatform())}`);
      }
      // The name annotations sit on the outer descriptor; carry them to the chosen manifest.
      const found = await manifestsOfIndex(archive, { schemaVersion: 2, manifests: [chosen] }, platform, depth + 1);
      out.push(...found.map((m) => ({ ...m, annotations: { ...m.annotations, ...d.annotations } })));
    }
  }
  return out;
}

/**
 * A layout may list one name once per platform at top level; keep the
 * requested platform's manifest for each name (or the first), so a name
 * ends up on exactly one image.
 */
function onePerName(descriptors: Descriptor[], platform: Platform | undefined): Descriptor[] {
  const groups = new Map<string, Descriptor[]>();
  for (const d of descriptors) {
    const names = namesFromAnnotations(d);
    const key = names.length > 0 ? names.join('\n') : d.digest;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  return [...groups.values()].map((group) => (group.length === 1 ? group[0]! : selectManifest({ schemaVersion: 2, manifests: group }, platform) ?? group[0]!));
}

function namesFromAnnotations(d: Descriptor): string[] {
  const full = d.annotations?.[Annotation.containerdName];
  if (full) return [full];
  // ref.name may be a full reference (skopeo writes those) or just a tag (no repository to tag then).
  const refName = d.annotations?.[Annotation.refName];
  return refName && /[/:]/.test(refName) ? [refName] : [];
}

async function loadOciEntry(store: ContentStore, archive: TarArchive, d: Descriptor, added: AddedBlobs): Promise<LoadedImage> {
  const manifestBytes = await verifiedBlob(archive, d);
  const manifest = parseJson<ImageManifest>(manifestBytes, `manifest ${d.digest}`);
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new ImageError('INVALID_ARCHIVE', `manifest ${d.digest} is not an image manifest`);
  const configBytes = await verifiedBlob(archive, manifest.config);
  const config = parseConfig(configBytes, `config ${manifest.config.digest}`);
  const layers = await mapLimit(manifest.layers, LAYER_CONCURRENCY, async (l) => {
    const compression = layerCompressionOf(l.mediaType);
    if (!compression) throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `layer ${l.digest}: unsupported media type ${l.mediaType}`);
    const name = blobName(l.digest);
    const stored = await storeLayerBlob(store, () => archive.openRead(name), compression, l.digest, added);
    return { ...stored, mediaType: l.mediaType };
  });
  checkDiffIds(layers, config, `manifest ${d.digest}`);
  await added.putBuffer(configBytes, manifest.config.digest);
  // Store the manifest byte for byte, so the loaded image keeps its digest.
  const manifestDigest = await added.putBuffer(manifestBytes, d.digest);
  return { manifestDigest, configDigest: manifest.config.digest, names: namesFromAnnotations(d) };
}

async function loadDockerEntry(store: ContentStore, archive: TarArchive, entry: DockerManifestEntry, added: AddedBlobs): Promise<LoadedImage> {
  if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) throw new ImageError('INVALID_ARCHIVE', 'manifest.json entry lacks Config or Layers');
  const configBytes = await archive.readBuffer(entry.Config);
  const config = parseConfig(configBytes, entry.Config);
  // Check every path before reading any layer, so a hostile manifest stores nothing.
  for (const name of entry.Layers) safeMemberName(name);
  const layers = await mapLimit(entry.Layers, LAYER_CONCURRENCY, async (name) => {
    const compression = sniffCompression(await archive.head(name));
    return storeLayerBlob(store, () => archive.openRead(name), compression, undefined, added);
  });
  checkDiffIds(layers, config, entry.Config);
  const configExisted = await store.has(digestOf(configBytes));
  const configDigest = await added.putBuffer(configBytes);
  const { manifestDigest } = await storeManifest(store, { digest: configDigest, size: configBytes.length }, layers);
  // The manifest names the config: a new config means a new manifest.
  added.note(manifestDigest, !configExisted);
  return { manifestDigest, configDigest, names: entry.RepoTags ?? [] };
}

/** `docker load` accepts `docker save | gzip`; so do we, via a temp file (tar members need random access). */
async function uncompressedArchive(store: ContentStore, file: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const compression = await sniffFileCompression(file);
  if (compression === 'uncompressed') return { path: file, cleanup: async () => {} };
  if (compression === 'zstd') throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${file}: zstd-compressed archives are not supported`);
  const tmp = await store.newTempPath('load');
  try {
    await pipeline(createReadStream(file), createGunzip(), createWriteStream(tmp));
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new ImageError('INVALID_ARCHIVE', `${file}: cannot decompress (${(e as Error).message})`);
  }
  return { path: tmp, cleanup: () => fs.rm(tmp, { force: true }) };
}

/** Load every image of an OCI layout tar or docker-archive tar, tag the names it carries, return what was loaded. */
export async function loadArchive(store: ContentStore, images: ImageStore, tarPath: string, opts: LoadOptions = {}): Promise<LoadedImage[]> {
  const plain = await uncompressedArchive(store, tarPath);
  const added = new AddedBlobs(store);
  let tagging = false;
  try {
    const archive = await TarArchive.open(plain.path);
    const dockerEntries = archive.has('manifest.json')
      ? parseJson<DockerManifestEntry[]>(await archive.readBuffer('manifest.json'), 'manifest.json')
      : undefined;
    if (dockerEntries !== undefined && !Array.isArray(dockerEntries)) throw new ImageError('INVALID_ARCHIVE', 'manifest.json is not a list');

    let loaded: LoadedImage[];
    if (archive.has('index.json')) {
      // Prefer the OCI view: every blob is digest-checked and manifests keep their digests.
      const index = parseJson<ImageIndex>(await archive.readBuffer('index.json'), 'index.json');
      const descriptors = onePerName(await manifestsOfIndex(archive, index, opts.platform), opts.platform);
      loaded = [];
      for (const d of descriptors) loaded.push(await loadOciEntry(store, archive, d, added));
      // docker save puts the names in manifest.json; use them where index.json has none.
      for (const img of loaded) {
        if (img.names.length > 0) continue;
        const match = dockerEntries?.find((e) => e.Config === blobName(img.configDigest));
        img.names = match?.RepoTags ?? [];
      }
    } else if (dockerEntries) {
      loaded = [];
      for (const e of dockerEntries) loaded.push(await loadDockerEntry(store, archive, e, added));
    } else {
      throw new ImageError('INVALID_ARCHIVE', `${tarPath}: neither an OCI layout (index.json) nor a docker archive (manifest.json)`);
    }

    for (const img of loaded) await assertValidImage(store, img.manifestDigest, `${tarPath}: image ${img.manifestDigest}`);
    tagging = true;
    for (const img of loaded) {
      // A digest-only name (`repo@sha256:...`) has no tag to record; the image is still added.
      const refs = img.names.map((n) => parseReference(n)).filter((r) => r.tag !== undefined);
      img.names = [...new Set(refs.map((r) => formatReference({ ...r, digest: undefined })))];
      if (img.names.length === 0) await images.add(img.manifestDigest);
      for (const n of img.names) await images.tag(n, img.manifestDigest);
    }
    return loaded;
  } catch (e) {
    // Once a name points at an image its blobs are no longer ours to remove.
    if (!tagging) await added.discard();
    throw e;
  } finally {
    await plain.cleanup();
  }
}
