// A build cache at a registry reference: the cache manifest under its tag,
// the config and layers as ordinary blobs of that repository. Uses the
// registry client (auth, retries, resumable downloads, chunked uploads).
import type { ContentStore } from '../../cache/content-store.js';
import { parseCacheConfig, parseCacheManifest, type CacheBlobRef } from '../../cache/cache-manifest.js';
import { digestOf } from '../../cache/digest.js';
import { formatReference, parseReference, type ImageReference } from '../image/reference.js';
import { RegistryClient, type Action } from '../registry/client.js';
import { downloadBlob } from '../registry/download.js';
import { RegistryError } from '../registry/errors.js';
import { discard, header } from '../registry/http.js';
import { badDigest, getManifest } from '../registry/manifest.js';
import { endpointsFor, loadRegistrySettings } from '../registry/settings.js';
import { uploadBlob } from '../registry/upload.js';
import type { CacheReader, CacheWriter, LoadedCache } from './transport.js';

// The config lists every record of a build: generous, but bounded.
const CONFIG_LIMIT = 64 << 20;

export class RegistryCache implements CacheReader, CacheWriter {
  readonly label: string;

  private constructor(private readonly client: RegistryClient, private readonly ref: ImageReference) {
    this.label = formatReference(ref);
  }

  // storeRoot: where registries.json (insecure registries, mirrors) lives.
  static async open(refText: string, storeRoot: string, actions: Action[]): Promise<RegistryCache> {
    const ref = parseReference(refText);
    const settings = await loadRegistrySettings(storeRoot);
    // The registry itself, never a mirror: a mirror holds no one's cache.
    const endpoint = endpointsFor(ref.domain, settings, 'push')[0]!;
    const client = await RegistryClient.create({ endpoint, repository: ref.path, label: formatReference(ref), actions });
    return new RegistryCache(client, ref);
  }

  private get reference(): string {
    return this.ref.digest ?? this.ref.tag ?? 'latest';
  }

  async load(): Promise<LoadedCache | undefined> {
    let bytes: Buffer;
    try {
      bytes = (await getManifest(this.client, this.reference)).bytes;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') return undefined;
      throw err;
    }
    const manifest = parseCacheManifest(bytes, this.label);
    const { body } = await this.client.fetchBuffer('GET', `blobs/${manifest.config.digest}`, { ok: [200] }, CONFIG_LIMIT);
    const actual = digestOf(body);
    if (actual !== manifest.config.digest) throw badDigest(this.client, 'the cache config', manifest.config.digest, actual);
    return { manifest, config: parseCacheConfig(body, this.label) };
  }

  async fetch(content: ContentStore, blob: CacheBlobRef): Promise<void> {
    await downloadBlob(this.client, content, blob);
  }

  async has(blob: CacheBlobRef): Promise<boolean> {
    const res = await this.client.request('HEAD', `blobs/${blob.digest}`, { ok: [200, 404] });
    await discard(res);
    return res.status === 200;
  }

  async putBlob(content: ContentStore, blob: CacheBlobRef): Promise<'exists' | 'uploaded'> {
    const outcome = await uploadBlob(this.client, content, blob);
    return outcome === 'uploaded' ? 'uploaded' : 'exists';
  }

  async commit(manifestBytes: Buffer, mediaType: string): Promise<void> {
    if (this.ref.digest !== undefined) throw new RegistryError('REGISTRY_PROTOCOL', `cannot export a build cache to ${this.label}: a digest names fixed content; give a tag`);
    const res = await this.client.request('PUT', `manifests/${this.reference}`, { headers: { 'Content-Type': mediaType }, body: manifestBytes, ok: [201] });
    await discard(res);
    const claimed = header(res, 'docker-content-digest');
    const digest = digestOf(manifestBytes);
    if (claimed && claimed !== digest) throw badDigest(this.client, 'the cache manifest digest back', digest, claimed);
  }
}
