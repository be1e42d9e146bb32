// A build cache in an OCI image layout directory (`oci-layout`,
// `index.json`, `blobs/sha256/<hex>`), the cache manifest named in
// index.json by `org.opencontainers.image.ref.name` = tag. Blobs are
// written under a temp name and renamed; index.json is rewritten the same
// way under a lock, so a reader never sees half a cache and two exports to
// one directory both land (the later one owns the tag). Blobs of earlier
// exports stay: the directory only grows, as with BuildKit's local cache.
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from '../../cache/content-store.js';
import { CacheFormatError, parseCacheConfig, parseCacheManifest, type CacheBlobRef } from '../../cache/cache-manifest.js';
import { digestOf, hexOf, type Digest } from '../../cache/digest.js';
import { readJsonIfExists, tempPathFor, writeFileAtomic } from '../image/fs-util.js';
import { withLock } from '../image/lock.js';
import type { CacheReader, CacheWriter, LoadedCache } from './transport.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

export class LocalCache implements CacheReader, CacheWriter {
  readonly label: string;

  constructor(private readonly dir: string, private readonly tag: string) {
    this.label = dir;
  }

  private blobPath(d: Digest): string {
    return path.join(this.dir, 'blobs', 'sha256', hexOf(d));
  }

  private async readIndex(): Promise<LayoutIndex | undefined> {
    const index = await readJsonIfExists<LayoutIndex>(path.join(this.dir, 'index.json')).catch(() => {
      throw new CacheFormatError(`${this.label}: index.json is not JSON`);
    });
    if (index !== undefined && !Array.isArray(index.manifests)) throw new CacheFormatError(`${this.label}: index.json has no manifests`);
    return index;
  }

  private async readBlob(d: Digest): Promise<Buffer> {
    const bytes = await readFile(this.blobPath(d)).catch(() => {
      throw new CacheFormatError(`${this.label}: blob ${d} is missing`);
    });
    if (digestOf(bytes) !== d) throw new CacheFormatError(`${this.label}: blob ${d} is corrupt`);
    return bytes;
  }

  async load(): Promise<LoadedCache | undefined> {
    const index = await this.readIndex();
    const entry = index?.manifests.find((m) => m.annotations?.[REF_NAME] === this.tag);
    if (!entry) return undefined;
    const manifest = parseCacheManifest(await this.readBlob(entry.digest as Digest), this.label);
    const config = parseCacheConfig(await this.readBlob(manifest.config.digest), this.label);
    return { manifest, config };
  }

  async fetch(content: ContentStore, blob: CacheBlobRef): Promise<void> {
    if (await content.has(blob.digest)) return;
    // putStream verifies the digest before the blob gets its name.
    await content.putStream(createReadStream(this.blobPath(blob.digest)), blob.digest);
  }

  async has(blob: CacheBlobRef): Promise<boolean> {
    const st = await stat(this.blobPath(blob.digest)).catch(() => undefined);
    return st?.size === blob.size;
  }

  async putBlob(content: ContentStore, blob: CacheBlobRef): Promise<'exists' | 'uploaded'> {
    if (await this.has(blob)) return 'exists';
    const target = this.blobPath(blob.digest);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = tempPathFor(target);
    try {
      await copyFile(content.path(blob.digest), tmp);
      await rename(tmp, target);
    } finally {
      await rm(tmp, { force: true });
    }
    return 'uploaded';
  }

  async commit(manifestBytes: Buffer, mediaType: string): Promise<void> {
    const digest = digestOf(manifestBytes);
    const target = this.blobPath(digest);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, manifestBytes);
    await writeFileAtomic(path.join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    // Read-modify-write of index.json: two exports at once must not lose each other's tags.
    await withLock(path.join(this.dir, '.index.json.lock'), async () => {
      const index = (await this.readIndex().catch(() => undefined)) ?? { schemaVersion: 2, manifests: [] };
      const others = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== this.tag);
      const next: LayoutIndex = {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [...others, { mediaType, digest, size: manifestBytes.length, annotations: { [REF_NAME]: this.tag } }],
      };
      await writeFileAtomic(path.join(this.dir, 'index.json'), JSON.stringify(next));
    });
  }
}
