// The solver's result cache during a build with --cache-from: the local
// index first, then the records imported from remote caches. A hit on an
// imported record costs nothing but the small cache config read before the
// build: its layers are fetched lazily, when a later step needs that
// filesystem (SnapshotStore.ensure calls fetchMissing) or when the final
// image is assembled (ensureLayers). Layers the store already has (same
// diff id: a pulled base image, an earlier build) are used instead of
// downloading the imported copy.
import type { ContentStore } from '../../cache/content-store.js';
import type { CacheBlobRef, CacheLayerRef, CacheRecord } from '../../cache/cache-manifest.js';
import type { Digest } from '../../cache/digest.js';
import { MediaType } from '../image/types.js';
import type { ResultCache } from '../solver/solver.js';
import type { LayerRecord } from '../snapshots/snapshot-store.js';
import type { StepResult } from '../store/step-result.js';
import { CacheIOError, reasonOf } from './errors.js';
import type { CacheReader, LoadedCache } from './transport.js';

interface RemoteLayer {
  blob: CacheLayerRef;
  reader: CacheReader;
}

export class ImportedCache {
  private readonly records = new Map<string, CacheRecord>();
  private readonly remoteByDiffId = new Map<string, RemoteLayer>();
  private readonly remoteByBlob = new Map<string, RemoteLayer>();
  // Layers known to be in the local store, by diff id.
  private readonly localLayers = new Map<string, LayerRecord>();
  private readonly fetching = new Map<string, Promise<void>>();
  // Imported results handed to the solver in this build, by key.
  private readonly served = new Map<string, StepResult>();
  // Blobs downloaded by this build, for progress and tests.
  readonly downloaded: CacheBlobRef[] = [];

  constructor(private readonly content: ContentStore, private readonly onFetched?: (blob: CacheBlobRef, from: string) => void) {}

  get size(): number {
    return this.records.size;
  }

  // Earlier sources win: a key present in two caches is served by the first given.
  add(loaded: LoadedCache, reader: CacheReader): void {
    for (const [diffId, blob] of Object.entries(loaded.config.layers)) {
      if (!this.remoteByDiffId.has(diffId)) this.remoteByDiffId.set(diffId, { blob, reader });
      if (!this.remoteByBlob.has(blob.digest)) this.remoteByBlob.set(blob.digest, { blob, reader });
    }
    for (const r of loaded.config.records) if (!this.records.has(r.key)) this.records.set(r.key, r);
  }

  // The chain the solver uses: local index, then imported records.
  resultCache(local: ResultCache<StepResult>): ResultCache<StepResult> {
    return {
      get: async (key) => {
        const hit = await local.get(key);
        if (hit !== undefined) {
          this.noteLocal(hit);
          return hit;
        }
        const record = this.records.get(key);
        if (!record) return undefined;
        const result = await this.materialize(record);
        this.served.set(key, result);
        return result;
      },
      put: async (key, result) => {
        this.noteLocal(result);
        await local.put(key, result);
      },
    };
  }

  // A layer of an imported result whose blob the content store lacks: fetch it.
  async fetchMissing(layer: LayerRecord): Promise<void> {
    if (await this.content.has(layer.blob)) return;
    const remote = this.remoteByBlob.get(layer.blob);
    if (!remote) throw new CacheIOError('CACHE_LAYER_UNAVAILABLE', `layer ${layer.blob} (diff id ${layer.diffId}) is neither in the local store nor in an imported cache`);
    let p = this.fetching.get(layer.blob);
    if (!p) {
      p = remote.reader.fetch(this.content, remote.blob).then(() => {
        this.downloaded.push(remote.blob);
        this.onFetched?.(remote.blob, remote.reader.label);
      }, (err) => {
        this.fetching.delete(layer.blob);
        throw new CacheIOError('CACHE_LAYER_UNAVAILABLE', `cannot fetch cached layer ${layer.blob} from ${remote.reader.label}: ${reasonOf(err)}`, { cause: err });
      });
      this.fetching.set(layer.blob, p);
    }
    await p;
  }

  // Every blob of these layers in the local store (the final image's layers).
  async ensureLayers(layers: readonly LayerRecord[]): Promise<void> {
    await Promise.all(layers.map((l) => this.fetchMissing(l)));
  }

  // Imported results whose layers are all local by now (the final image's
  // chain, typically) become local cache entries: the next build on this
  // machine needs no --cache-from for them. The others stay remote-only, as
  // a local entry must never name a blob the store lacks.
  async keepLocal(local: ResultCache<StepResult>): Promise<number> {
    let kept = 0;
    for (const [key, result] of this.served) {
      const present = await Promise.all(result.layers.map((l) => this.content.has(l.blob)));
      if (present.every(Boolean)) {
        await local.put(key, result);
        kept++;
      }
    }
    return kept;
  }

  private noteLocal(result: StepResult): void {
    for (const l of result.layers) if (!this.localLayers.has(l.diffId)) this.localLayers.set(l.diffId, l);
  }

  private async localLayer(diffId: Digest): Promise<LayerRecord | undefined> {
    const known = this.localLayers.get(diffId);
    if (known) return known;
    // tsbuild stores the layers it builds uncompressed: the blob is the diff id.
    if (await this.content.has(diffId)) {
      const layer: LayerRecord = { diffId, blob: diffId, size: await this.content.size(diffId), mediaType: MediaType.ociLayer };
      this.localLayers.set(diffId, layer);
      return layer;
    }
    return undefined;
  }

  private async materialize(record: CacheRecord): Promise<StepResult> {
    const layers = await Promise.all(record.layers.map(async (diffId): Promise<LayerRecord> => {
      // parseCacheConfig checked that every diff id of a record is in its layer table.
      const remote = this.remoteByDiffId.get(diffId)!;
      // The time is the exporting build's, so the image comes out the same as there.
      const created = remote.blob.created !== undefined ? { created: remote.blob.created } : {};
      const local = await this.localLayer(diffId);
      if (local) return { ...local, ...created };
      return { diffId, blob: remote.blob.digest, size: remote.blob.size, mediaType: remote.blob.mediaType, ...created };
    }));
    return { layers, stepAdded: [...record.stepAdded] };
  }
}
