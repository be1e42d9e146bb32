// The build's side of cache export/import (--cache-from / --cache-to):
// before the solve, load every imported cache config (a failure is a
// warning: the build goes on without that cache, as with BuildKit) and the
// imported cache mounts; during it, serve the solver from the local index
// then the imported records and fetch layers only when needed; after it,
// write every export (a failure fails the build, unless ignore-error=true).
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BuildGraph } from '../../frontend/graph/types.js';
import type { Store } from '../store/open-store.js';
import type { StepResult } from '../store/step-result.js';
import type { ProgressWriter } from '../progress/index.js';
import type { ResultCache } from '../solver/solver.js';
import type { LayerRecord } from '../snapshots/snapshot-store.js';
import { pidOfTempName, processAlive } from '../../cache/process-alive.js';
import { CacheIOError, reasonOf } from './errors.js';
import { ImportedCache } from './imported-cache.js';
import { selectEntries, type SolvedEntry, type StepVertex } from './select.js';
// The transports, the exporter and cache mounts are loaded only when a build
// imports or exports a cache: they pull in http, tls and zlib, which a plain
// (or no-op) build would load for nothing.
type CacheMounts = typeof import('./cache-mounts.js');
const cacheMounts = (): Promise<CacheMounts> => import('./cache-mounts.js');
const openCacheLocation: typeof import('./open.js').openCacheLocation = async (...args) => (await import('./open.js')).openCacheLocation(...args);
import { describeLocation, parseCacheExport, parseCacheImport, type CacheExportSpec, type CacheImportSpec, type CacheSpec } from './spec.js';

export interface CachePlan {
  imports: CacheImportSpec[];
  exports: CacheExportSpec[];
}

// Checks the flags before anything runs: a typo should not cost a build.
export function planCacheIO(opts: { cacheFrom: readonly CacheSpec[]; cacheTo: readonly CacheSpec[] }): CachePlan {
  return { imports: opts.cacheFrom.map(parseCacheImport), exports: opts.cacheTo.map(parseCacheExport) };
}

export interface ExportContext {
  graph: BuildGraph;
  stepVertices: readonly StepVertex[];
  solved: readonly SolvedEntry[];
}

export class CacheIOSession {
  private constructor(private readonly store: Store, private readonly plan: CachePlan, private readonly progress: ProgressWriter, private readonly imported: ImportedCache) {}

  // Loads the imported caches (warnings only) and their cache mounts.
  static async open(store: Store, plan: CachePlan, progress: ProgressWriter, graph: BuildGraph): Promise<CacheIOSession> {
    // Lazy downloads show up as their own lines: a warm cache should show few.
    const imported = new ImportedCache(store.content, (blob, from) => progress.info(`[internal] load cached layer ${blob.digest.slice(0, 19)} from ${from}`, `${blob.size} bytes`));
    const session = new CacheIOSession(store, plan, progress, imported);
    if (plan.imports.length > 0) {
      // Snapshots of imported results unpack layers the store may not have yet.
      store.snapshots.blobFetcher = session.fetchMissing;
      await removeStaleMountImports(store.paths.cacheMounts);
    }
    for (const spec of plan.imports) await session.importOne(spec, graph);
    return session;
  }

  resultCache(local: ResultCache<StepResult>): ResultCache<StepResult> {
    return this.plan.imports.length > 0 ? this.imported.resultCache(local) : local;
  }

  fetchMissing = (layer: LayerRecord): Promise<void> => this.imported.fetchMissing(layer);

  // The final image's layers must be in the local store (image store,
  // exporters); imported ones not fetched yet are downloaded now.
  // Imported results that are complete locally then join the local index.
  async ensureLocal(layers: readonly LayerRecord[]): Promise<void> {
    if (this.plan.imports.length === 0) return;
    await this.imported.ensureLayers(layers);
    await this.imported.keepLocal(this.store.index);
  }

  private async importOne(spec: CacheImportSpec, graph: BuildGraph): Promise<void> {
    const where = describeLocation(spec.location);
    const task = this.progress.task(`importing cache manifest from ${where}`);
    try {
      const reader = await openCacheLocation(spec.location, this.store.paths.root, ['pull']);
      const loaded = await reader.load();
      if (!loaded) {
        task.log('no build cache there');
        task.done();
        this.progress.warn(`no build cache found at ${where}; building without it`);
        return;
      }
      this.imported.add(loaded, reader);
      task.log(`${loaded.config.records.length} cache records, ${Object.keys(loaded.config.layers).length} layers`);
      if (spec.mounts) {
        const { cacheMountIds, importCacheMount } = await cacheMounts();
        // Only the cache mounts this build uses: others would be downloaded for nothing.
        const used = new Set(cacheMountIds(graph));
        for (const m of loaded.config.mounts.filter((x) => used.has(x.id))) {
          const done = await importCacheMount(this.store.content, this.store.paths.cacheMounts, m, () => reader.fetch(this.store.content, m));
          if (done) task.log(`imported cache mount ${m.id}`);
        }
      }
      task.done();
    } catch (err) {
      task.log(`failed: ${reasonOf(err)}`);
      task.done();
      this.progress.warn(`failed to import cache from ${where}: ${reasonOf(err)}; building without it`);
    }
  }

  // Writes every --cache-to destination.
  async exportAll(ctx: ExportContext): Promise<void> {
    for (const spec of this.plan.exports) await this.exportOne(spec, ctx);
  }

  private async exportOne(spec: CacheExportSpec, ctx: ExportContext): Promise<void> {
    const where = describeLocation(spec.location);
    const task = this.progress.task(`exporting cache to ${spec.location.type === 'registry' ? 'registry' : 'client directory'}`);
    try {
      const [{ DEFAULT_GZIP_LEVEL }, { writeCache }, { cacheMountIds, exportCacheMounts }] = await Promise.all([import('./compress.js'), import('./export.js'), cacheMounts()]);
      const choice = { compression: spec.compression, level: spec.compressionLevel ?? DEFAULT_GZIP_LEVEL };
      const writer = await openCacheLocation(spec.location, this.store.paths.root, ['pull', 'push']);
      const entries = selectEntries(ctx.graph, ctx.stepVertices, ctx.solved, spec.mode);
      const summary = await writeCache(writer, {
        content: this.store.content,
        memoDir: this.store.images.layerMemoDir,
        entries,
        choice,
        fetchMissing: this.fetchMissing,
        mounts: () => spec.mounts ? exportCacheMounts(this.store.content, this.store.images.layerMemoDir, this.store.paths.cacheMounts, cacheMountIds(ctx.graph), choice) : Promise.resolve([]),
      });
      task.log(`${summary.records} records (mode=${spec.mode}), ${summary.blobs} blobs, ${summary.uploaded} sent`);
      task.log(`writing cache manifest ${summary.manifestDigest} to ${where} done`);
      task.done();
    } catch (err) {
      const error = new CacheIOError('CACHE_EXPORT_FAILED', `exporting build cache to ${where} failed: ${reasonOf(err)}`, { cause: err });
      if (spec.ignoreError) {
        task.log(`failed (ignored): ${reasonOf(err)}`);
        task.done();
        this.progress.warn(error.message);
        return;
      }
      task.fail(error);
      throw error;
    }
  }
}

// Unpack dirs of cache mount imports a killed tsbuild left behind.
async function removeStaleMountImports(dir: string): Promise<void> {
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    if (!e.startsWith('tmp-import-')) continue;
    const pid = pidOfTempName(e);
    if (pid !== undefined && !processAlive(pid)) await rm(path.join(dir, e), { recursive: true, force: true }).catch(() => undefined);
  }
}
