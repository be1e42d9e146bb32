// The cache side of one build, opened before solving and finished after
// exporting: the persistent checksum cache of the context (saved at the
// end), the explainer that says why steps missed the cache, the lease that
// keeps `prune` away while the build runs, and the configured size limit
// enforced once the build succeeded. Also how the store maps onto cache/'s
// garbage collector (used by `tsbuild du` and `tsbuild prune`).
import path from 'node:path';
import type { StagePlan, Step } from '../../frontend/graph/types.js';
import { PersistentChecksumCache } from '../../cache/checksum-cache.js';
import { acquireLease, withCollectorLock, type Lease } from '../../cache/gc-lease.js';
import { configuredKeepStorage, containerSnapshotDirs } from '../../cache/gc-config.js';
import type { GcRoots, StoreLayout } from '../../cache/gc-scan.js';
import type { PruneOptions, PruneReport } from '../../cache/gc.js';
import type { StoreSizes } from '../../cache/gc-sizes.js';
import type { Digest } from '../../cache/digest.js';
import type { MissExplainer } from '../solver/solver.js';
import type { Vertex } from '../solver/vertex.js';
import { BuildExplainer, SelectionRecorder } from './explain.js';
import { ExplainHistory } from './explain-history.js';
import type { Store } from '../store/open-store.js';
import { contextCacheDir } from '../store/store-paths.js';

export interface CacheSessionOptions {
  contextDir: string;
  dockerfilePath: string;
  noCache: boolean;
  // The caller's TSBUILD_GC_KEEP_STORAGE; else <store>/config.json's limit applies.
  keepStorage?: string;
}

export interface CacheSession {
  // The checksum cache to hash the context with (hand it to BuildStepRunner).
  readonly hashCache: SelectionRecorder;
  explainer(steps: readonly { stage: StagePlan; step: Step; vertex: Vertex<unknown> }[]): BuildExplainer;
  // Starts saving the checksum cache (once every step's key is made: the
  // solve's target is there), so that the build's end does not wait for it.
  saveChecksums(): void;
  // Saves the checksum cache and releases the lease; after a successful
  // build also enforces the size limit. Never throws: the image is built by
  // then, and a collection that failed is only worth a warning.
  finish(ok: boolean): Promise<SessionEnd>;
}

export interface SessionEnd {
  // What the size limit removed, when it removed anything.
  collected?: PruneReport;
  warning?: string;
}

export function checksumsDir(store: Store): string {
  return store.paths.checksums;
}

export async function openCacheSession(store: Store, opts: CacheSessionOptions): Promise<CacheSession> {
  // A bad limit setting fails the build before it starts, not after.
  const keepStorage = await configuredKeepStorage(store.paths.root, { TSBUILD_GC_KEEP_STORAGE: opts.keepStorage });
  const lease: Lease = await acquireLease(store.paths.root, `build of ${path.resolve(opts.contextDir)}`);
  try {
    // The per-file table is read only if a selection's fingerprint changed.
    const checksums = await PersistentChecksumCache.open(checksumsDir(store), opts.contextDir, { deferEntries: true });
    const hashCache = new SelectionRecorder(checksums);
    const history = new ExplainHistory(ExplainHistory.dirOf(store.paths.root));
    const measured = keepStorage === undefined ? undefined : measurePublished(store);
    let finished = false;
    let saving: Promise<unknown> | undefined;
    const save = () => checksums.save();
    return {
      hashCache,
      saveChecksums: () => {
        saving ??= save();
        saving.catch(() => undefined); // reported by finish()
      },
      explainer: (steps) => new BuildExplainer({ history, selections: hashCache, dockerfilePath: opts.dockerfilePath, contextDir: opts.contextDir, noCache: opts.noCache }, steps),
      finish: async (ok) => {
        if (finished) return {};
        finished = true;
        const end: SessionEnd = {};
        // A failed build's hashes are as good as a successful one's. Saved
        // again after an early save: only what changed since is written.
        await (saving ?? Promise.resolve()).then(save).catch((err: Error) => { end.warning = `checksum cache not saved: ${err.message}`; });
        // Before the lease goes: no collector removes a snapshot while it is measured.
        const sizes = await measured?.();
        await lease.release().catch(() => undefined);
        if (!ok || keepStorage === undefined) return end;
        try {
          const report = await enforceStorageLimit(store, keepStorage, sizes);
          if (report && report.entriesRemoved + report.blobsRemoved + report.snapshotsRemoved > 0) end.collected = report;
        } catch (err) {
          end.warning = `cache size limit not enforced: ${(err as Error).message}`;
        }
        return end;
      },
    };
  } catch (err) {
    await lease.release();
    throw err;
  }
}

/**
 * Applies the configured limit (TSBUILD_GC_KEEP_STORAGE or config.json),
 * least recently used first. Skipped while other builds run: the last one
 * to finish enforces it.
 */
export async function enforceStorageLimit(store: Store, limit: number, sizes?: StoreSizes): Promise<PruneReport | undefined> {
  try {
    return await collectGarbage(store, { keepStorageBytes: limit }, { waitMs: 0 }, sizes);
  } catch (err) {
    if ((err as { code?: string }).code === 'STORE_BUSY') return undefined;
    throw err;
  }
}

export function storeLayoutOf(store: Store): StoreLayout {
  return {
    root: store.paths.root,
    content: store.content,
    cacheIndexDir: store.paths.cacheIndex,
    snapshotsDir: store.paths.snapshots,
    cacheMountsDir: store.paths.cacheMounts,
    contextCacheDir: contextCacheDir(store.paths.root),
    snapshotDirOf: (diffId: Digest) => store.snapshots.dirOf(diffId),
  };
}

/** What must survive any collection: every image the store knows, and containers' layers. */
export async function gcRootsOf(store: Store): Promise<GcRoots> {
  const [records, snapshotDirsInUse] = await Promise.all([
    store.images.records(),
    containerSnapshotDirs(store.paths.containers, store.paths.snapshots),
  ]);
  return { manifests: records.map((r) => r.manifestDigest), snapshotDirsInUse };
}

/** Runs the collector under the store's collector lock (see cache/gc-lease.ts). */
export async function collectGarbage(store: Store, opts: PruneOptions, lock: { waitMs: number; onWait?: (holders: { pid: number; purpose: string }[]) => void }, known?: StoreSizes): Promise<PruneReport> {
  return withCollectorLock(store.paths.root, async () => {
    const [{ prune }, { StoreSizes }, { storeBytes }] = await Promise.all([import('../../cache/gc.js'), import('../../cache/gc-sizes.js'), import('../../cache/gc-budget.js')]);
    const sizes = known ?? await StoreSizes.load(store.paths.root);
    try {
      // A size limit alone removes nothing while the store is within it:
      // then neither the images nor the cache entries need reading.
      if (onlySizeLimit(opts)) {
        const bytes = await storeBytes(storeLayoutOf(store), sizes);
        if (bytes <= opts.keepStorageBytes!) return { ...NOTHING_REMOVED, bytesLeft: bytes };
      }
      const sizeOf = Object.assign(sizes.sizeOf, { forget: (dir: string) => sizes.forget(dir) });
      // Roots are read under the lock: an image tagged after this point was
      // built under a lease, which the lock waited for.
      return await prune(storeLayoutOf(store), await gcRootsOf(store), opts, sizeOf);
    } finally {
      await sizes.save();
    }
  }, lock);
}

// With a size limit, each snapshot the build publishes is measured while
// the build goes on (a COPY's snapshot during the RUN after it), so that
// the limit's check at the end finds its size known instead of walking it
// then. Resolves, once those walks are done, with the sizes they filled in.
function measurePublished(store: Store): () => Promise<StoreSizes> {
  const sizes = import('../../cache/gc-sizes.js').then(({ StoreSizes }) => StoreSizes.load(store.paths.root));
  const walks: Promise<unknown>[] = [];
  store.snapshots.onPublished = (dir) => {
    walks.push(sizes.then((s) => s.sizeOf(dir)).catch(() => undefined));
  };
  return async () => {
    store.snapshots.onPublished = undefined;
    await Promise.all(walks);
    return sizes;
  };
}

const NOTHING_REMOVED: PruneReport = { entriesRemoved: 0, blobsRemoved: 0, snapshotsRemoved: 0, cacheMountsRemoved: 0, contextsRemoved: 0, contextFilesRemoved: 0, bytesFreed: 0, bytesLeft: 0 };

// `--all` and `until=` remove what they select even within the limit.
function onlySizeLimit(opts: PruneOptions): boolean {
  return opts.keepStorageBytes !== undefined && !opts.all && opts.untilMs === undefined;
}
