// One build, end to end: Dockerfile → graph → solved layers → image →
// outputs. Every user-facing failure ends as a one-line (or located) error
// and a non-zero exit; Ctrl-C cancels running steps and cleans up.
import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import type { BuildOptions } from './options.js';
import { openStore, cleanupStale, type Store } from '../store/open-store.js';
import { createProgress, type ProgressWriter } from '../progress/index.js';
import { Solver } from '../solver/solver.js';
import { GraphVertices } from './vertices.js';
import { imageResolver } from './resolve-image.js';
import { assembleImage, type BaseInfo } from './assemble-image.js';
import { exportOutputs } from './outputs.js';
import { BuildStepRunner } from '../steps/step-runner.js';
import { hostPlatform, formatPlatform } from '../image/platform.js';
import { normalizeReference } from '../image/reference.js';
import { reportError } from '../cli/report-error.js';
// [cache hook, issue 5] checksum cache, miss explanations, lease, size limit.
import { openCacheSession, type CacheSession } from './cache-session.js';
import { formatSize } from '../../cache/gc-config.js';
import { UsageError } from '../errors.js';
import { sourceDateEpochOf } from './source-date-epoch.js';
import type { BuildGraph, StagePlan } from '../../frontend/graph/types.js';
import type { Dockerfile } from '../../frontend/instructions/index.js';
// [cache-io hook, issue 6] --cache-from / --cache-to.
import { CacheIOSession, planCacheIO, type CachePlan } from '../cache-io/session.js';

export async function runBuild(opts: BuildOptions): Promise<number> {
  // [cache-io hook, issue 6] bad --cache-from/--cache-to specs fail before anything runs.
  const cachePlan = planCacheIO(opts);
  const frontend = await import('../../frontend/index.js');
  const dockerfile = frontend.parseDockerfile(opts.dockerfileText, { file: opts.dockerfileName });
  const platform = targetPlatform(opts);
  const store = await openStore();
  const graphOpts = (progress?: ProgressWriter) => ({
    buildArgs: opts.buildArgs, target: opts.target, platform, buildPlatform: hostPlatform(),
    resolveImage: imageResolver(store, { pull: opts.pull, progress }), file: opts.dockerfileName, labels: opts.labels,
  });
  if (opts.call !== 'build') return frontend.runCallMode(opts.call, dockerfile, graphOpts(), process.stdout, opts.dockerfileText);

  const progress = createProgress(opts.progress, process.stderr);
  const abort = new AbortController();
  const onSigint = () => abort.abort(new BuildCanceledError('build canceled (interrupted)'));
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  let session: CacheSession | undefined;
  try {
    await cleanupStale(store);
    // [cache hook, issue 5] held until the build ends; finish() also enforces the size limit.
    session = await openCacheSession(store, { contextDir: opts.contextDir, dockerfilePath: opts.dockerfilePath ?? opts.dockerfileName, noCache: opts.noCache });
    const loadTask = progress.task(`[internal] load build definition from ${opts.dockerfileName}`);
    loadTask.log(`transferring dockerfile: ${Buffer.byteLength(opts.dockerfileText)}B done`);
    loadTask.done();
    const graph: BuildGraph = await frontend.buildGraph(dockerfile as Dockerfile, graphOpts(progress));
    const imageId = await solveAndExport(store, opts, graph, progress, abort.signal, session, cachePlan);
    // [cache hook, issue 5] saves the checksum cache, releases the lease, applies the size limit.
    const { collected, warning } = await session.finish(true);
    if (collected) {
      progress.info('[internal] cache size limit', `removed ${collected.entriesRemoved} cache entries, ${collected.blobsRemoved} blobs, ${collected.snapshotsRemoved} snapshots, ${formatSize(collected.bytesFreed)}`);
    }
    if (warning) progress.warn(warning);
    for (const w of graph.warnings) progress.warn(`${w.rule}: ${w.message}${w.loc ? ` (line ${w.loc.line})` : ''}`);
    if (graph.unusedBuildArgs.length > 0) progress.warn(`One or more build-args [${graph.unusedBuildArgs.join(' ')}] were not consumed`);
    await progress.close({ ok: true });
    if (opts.progress === 'quiet') process.stdout.write(imageId + '\n');
    return 0;
  } catch (err) {
    await session?.finish(false);
    await progress.close({ ok: false });
    return reportError(err);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

class BuildCanceledError extends Error {
  readonly userError = true;
  readonly code = 'CANCELED';
}

function targetPlatform(opts: BuildOptions) {
  const host = hostPlatform();
  for (const p of opts.platforms) {
    if (p !== formatPlatform(host) && p !== `${host.os}/${host.architecture}`) {
      throw new UsageError(`--platform ${p}: only the host platform (${formatPlatform(host)}) can be built here (no emulation)`);
    }
  }
  return host;
}

// The root image under the target's chain of stages: its layers and
// history entries come first in the final image.
function baseInfoOf(graph: BuildGraph, stage: StagePlan): BaseInfo {
  let s = stage;
  for (;;) {
    const base = s.base;
    if (base.type === 'scratch') return { layerCount: 0, historyCount: 0 };
    if (base.type === 'image') return { layerCount: -1, historyCount: base.image.history.length, ref: normalizeReference(base.image.ref), digest: base.image.digest };
    s = graph.stages.find((x) => x.index === base.index)!;
  }
}

async function solveAndExport(store: Store, opts: BuildOptions, graph: BuildGraph, progress: ProgressWriter, signal: AbortSignal, session: CacheSession, cachePlan: CachePlan): Promise<string> {
  const runner = new BuildStepRunner(store, opts, graph, session.hashCache);
  const vertices = new GraphVertices(graph, runner, { noCache: opts.noCache, noCacheStages: new Set(opts.noCacheFilter) });
  // [cache-io hook, issue 6] imported caches load before the solve; the solver's cache is the local index, then them.
  const cacheIO = await CacheIOSession.open(store, cachePlan, progress, graph);
  const solver = new Solver({
    cache: cacheIO.resultCache(store.index),
    explainer: session.explainer(vertices.stepVertices),
    jobs: Number(process.env.TSBUILD_JOBS) || os.availableParallelism(),
    platform: formatPlatform(graph.target.platform),
    signal,
    onEvent: progress.onEvent,
  });
  const [solved] = await solver.solve([vertices.target()]);
  await cacheIO.ensureLocal(solved.result.layers); // [cache-io hook, issue 6] lazily imported layers of the final image
  const epoch = sourceDateEpochOf(opts.buildArgs);
  const base = baseInfoOf(graph, graph.target);
  if (base.layerCount < 0) base.layerCount = await runner.baseLayerCount(graph.target);
  const image = await assembleImage(store.content, graph.target, solved.result, { now: new Date().toISOString(), epoch, base });
  await exportOutputs(store, opts, image, progress);
  // [cache-io hook, issue 6] --cache-to, after the image as with BuildKit.
  await cacheIO.exportAll({ graph, stepVertices: vertices.stepVertices, solved: await solver.solvedEntries() });
  if (opts.iidFile) await writeFile(opts.iidFile, image.configDigest);
  if (opts.metadataFile) {
    await writeFile(opts.metadataFile, JSON.stringify({
      'containerimage.config.digest': image.configDigest,
      'containerimage.digest': image.manifestDigest,
      'image.name': opts.tags.join(','),
    }, null, 2) + '\n');
  }
  return image.configDigest;
}
