// Where an exported build cache lives. A registry reference and an OCI
// layout directory hold the very same manifest, config and blobs, so
// export and import are written once against these two small interfaces.
import type { ContentStore } from '../../cache/content-store.js';
import type { CacheBlobRef, CacheConfig, CacheManifest } from '../../cache/cache-manifest.js';

export interface LoadedCache {
  manifest: CacheManifest;
  config: CacheConfig;
}

export interface CacheReader {
  // For messages: the reference or directory.
  readonly label: string;
  // The cache manifest and its config; undefined when nothing is there (yet).
  load(): Promise<LoadedCache | undefined>;
  // Copies one blob into the local content store, verified against its digest.
  fetch(content: ContentStore, blob: CacheBlobRef): Promise<void>;
}

export interface CacheWriter {
  readonly label: string;
  // Whether the destination already holds the blob.
  has(blob: CacheBlobRef): Promise<boolean>;
  // Sends a blob of the local content store unless the destination has it.
  putBlob(content: ContentStore, blob: CacheBlobRef): Promise<'exists' | 'uploaded'>;
  // Publishes the manifest; called last, so it never names a missing blob.
  commit(manifestBytes: Buffer, mediaType: string): Promise<void>;
}
