// One build, end to end, as a library call: Dockerfile → graph → solved
// layers → image → outputs. No process globals in here or below: progress
// goes to io.onEvent, cancellation comes through io.signal, secrets and
// SSH agents through io's providers, and failures are thrown (the caller
// decides what to print and which exit code that is).
import os from 'node:os';
import type { BuildIO, BuildOptions, BuildResult, CallMode } from './options.js';
import { openStore, cleanupStale, type Store } from '../store/open-store.js';
import { ProgressEmitter, type ProgressWriter } from '../progress/index.js';
import { Solver } from '../solver/solver.js';
import { GraphVertices } from './vertices.js';
import { imageResolver } from './resolve-image.js';
import { assembleImage, type BaseInfo } from './assemble-image.js';
import { resolveExporters, type Exporter } from '../exporters/index.js';
import type { PushedManifest } from '../exporters/types.js';
import { buildMetadata } from './metadata-file.js';
import { resolveBuildContexts } from './named-contexts.js';
import { BuildStepRunner } from '../steps/step-runner.js';
import type { SecretProvider, SshProvider, StepEnv } from '../steps/types.js';
import { hostPlatform, formatPlatform } from '../image/platform.js';
import { normalizeReference } from '../image/reference.js';
import { openCacheSession, type CacheSession } from './cache-session.js';
import { formatSize } from '../../cache/gc-config.js';
import { BuildCanceledError, UsageError } from '../errors.js';
import { sourceDateEpochOf } from './source-date-epoch.js';
import { Limiter } from '../concurrency.js';
import type { BuildGraph, StagePlan } from '../../frontend/graph/types.js';
import type { Dockerfile } from '../../frontend/instructions/index.js';
import { CacheIOSession, planCacheIO, type CachePlan } from '../cache-io/session.js';
import { provenanceAttacher } from './provenance-facts.js';
import { StoreOnlyTracker } from './store-only.js';
import { LayerWrites } from '../snapshots/pending-layer.js';
import type { Vertex } from '../solver/vertex.js';
import type { StepResult } from '../store/step-result.js';

const NO_SECRETS: SecretProvider = { getSecret: async () => undefined };
const NO_SSH: SshProvider = { agentSocket: async () => undefined };

export async function build(opts: BuildOptions, io: BuildIO = {}): Promise<BuildResult> {
  // Everything that can be checked is checked before any step runs: a typo
  // in --cache-to or -o must not cost a build.
  const cachePlan = planCacheIO(opts);
  const exporters = resolveExporters(opts.outputs, { tags: opts.tags });
  const sourceDateEpoch = sourceDateEpochOf(opts.buildArgs, opts.sourceDateEpoch);
  const startedOn = new Date();
  const frontend = await import('../../frontend/index.js');
  const dockerfile = frontend.parseDockerfile(opts.dockerfileText, { file: opts.dockerfileName });
  const platform = targetPlatform(opts);
  const store = await openStore(opts.storeRoot);
  const progress = new ProgressEmitter(io.onEvent ?? (() => undefined));
  const layerWrites = new LayerWrites(store.snapshots, io.signal);
  const env: StepEnv = {
    store,
    runtime: opts.runtime,
    sourceDateEpoch,
    entitlements: new Set(opts.allow),
    network: opts.network,
    secrets: io.secrets ?? NO_SECRETS,
    ssh: io.ssh ?? NO_SSH,
    ...(opts.runResources ? { runResources: opts.runResources } : {}),
    layerWrites,
    ...(io.onIdle ? { onIdle: io.onIdle } : {}),
  };
  // --build-context values are checked (and loaded, cloned) before any step runs.
  const contexts = await resolveBuildContexts(store, opts.buildContexts ?? []);
  let session: CacheSession | undefined;
  try {
    await cleanupStale(store);
    // Held until the build ends; finish() also enforces the size limit.
    session = await openCacheSession(store, { contextDir: opts.contextDir, dockerfilePath: opts.dockerfilePath ?? opts.dockerfileName, noCache: opts.noCache, keepStorage: opts.keepStorage });
    // Only now: a caller holding a lease of its own until the build holds one (a server's synced context) may drop it here.
    io.onStart?.();
    const loadTask = progress.task(`[internal] load build definition from ${opts.dockerfileName}`);
    loadTask.log(`transferring dockerfile: ${Buffer.byteLength(opts.dockerfileText)}B done`);
    loadTask.done();
    const graph: BuildGraph = await frontend.buildGraph(dockerfile as Dockerfile, { ...graphOptions(opts, store, platform, imageResolver(store, { pull: opts.pull, offline: opts.offline, progress })), namedContexts: contexts.named });
    // Canceled while base images were resolved (a pull can take long): nothing to solve.
    io.signal?.throwIfAborted();
    const result = await solveAndExport(env, opts, graph, { progress, signal: io.signal, session, cachePlan, exporters, io, contextDirs: contexts.dirs, startedOn })
      .catch(async (err) => {
        await layerWrites.tidied().catch(() => undefined);
        throw err;
      });
    // Layer indexes written and workspaces removed while the image was exported.
    await layerWrites.tidied();
    // Saves the checksum cache, releases the lease, applies the size limit.
    const { collected, warning } = await session.finish(true);
    if (collected) {
      progress.info('[internal] cache size limit', `removed ${collected.entriesRemoved} cache entries, ${collected.blobsRemoved} blobs, ${collected.snapshotsRemoved} snapshots, ${formatSize(collected.bytesFreed)}`);
    }
    const warnings: string[] = [];
    if (warning) warnings.push(warning);
    for (const w of graph.warnings) warnings.push(`${w.rule}: ${w.message}${w.loc ? ` (line ${w.loc.line})` : ''}`);
    if (graph.unusedBuildArgs.length > 0) warnings.push(`One or more build-args [${graph.unusedBuildArgs.join(' ')}] were not consumed`);
    for (const w of warnings) progress.warn(w);
    return { ...result, warnings };
  } catch (err) {
    await session?.finish(false);
    throw canceledOr(err, io.signal);
  } finally {
    await contexts.cleanup();
  }
}

/** `--call outline|targets|check`: evaluates the Dockerfile, builds nothing; resolves to the exit code. */
export async function evaluate(opts: BuildOptions, call: Exclude<CallMode, 'build'>, io: Pick<BuildIO, 'stdout' | 'stderr'> = {}): Promise<number> {
  planCacheIO(opts);
  const frontend = await import('../../frontend/index.js');
  const dockerfile = frontend.parseDockerfile(opts.dockerfileText, { file: opts.dockerfileName });
  const platform = targetPlatform(opts);
  const store = await openStore(opts.storeRoot);
  const out = io.stdout ?? { write: () => undefined };
  // Like BuildKit, a --call reads base image configs only; offline it reads none it lacks.
  const resolver = imageResolver(store, { pull: opts.pull, offline: opts.offline, configOnly: true, note: (m) => io.stderr?.write(`WARNING: ${m}\n`) });
  const contexts = await resolveBuildContexts(store, opts.buildContexts ?? []);
  try {
    return await frontend.runCallMode(call, dockerfile, { ...graphOptions(opts, store, platform, resolver), namedContexts: contexts.named }, out, opts.dockerfileText);
  } finally {
    await contexts.cleanup();
  }
}

function graphOptions(opts: BuildOptions, store: Store, platform: ReturnType<typeof hostPlatform>, resolveImage: ReturnType<typeof imageResolver>) {
  return {
    buildArgs: opts.buildArgs, target: opts.target, platform, buildPlatform: hostPlatform(),
    resolveImage, file: opts.dockerfileName, labels: opts.labels,
  };
}

// A caller's abort with a reason of its own (or none) still reads as a
// cancellation, not as a bug in tsbuild.
function canceledOr(err: unknown, signal: AbortSignal | undefined): unknown {
  if (!signal?.aborted) return err;
  const reason = signal.reason as { userError?: unknown } | undefined;
  if (reason && typeof reason === 'object' && reason.userError === true) return err;
  return new BuildCanceledError('build canceled');
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
    // A directory context's files: one layer without a history entry of its own.
    if (base.type === 'context') return { layerCount: 1, historyCount: 0 };
    if (base.type === 'image') return { layerCount: -1, historyCount: base.image.history.length, ref: normalizeReference(base.image.ref), digest: base.image.digest };
    s = graph.stages.find((x) => x.index === base.index)!;
  }
}

interface SolveContext {
  progress: ProgressWriter;
  signal: AbortSignal | undefined;
  session: CacheSession;
  cachePlan: CachePlan;
  exporters: Exporter[];
  io: BuildIO;
  contextDirs: ReadonlyMap<string, string>;
  startedOn: Date;
}

async function solveAndExport(env: StepEnv, opts: BuildOptions, graph: BuildGraph, ctx: SolveContext): Promise<Omit<BuildResult, 'warnings'>> {
  const { store } = env;
  const { progress, session } = ctx;
  const runner = new BuildStepRunner(env, { contextDir: opts.contextDir, dockerfilePath: opts.dockerfilePath, contextDigest: opts.contextDigest, prefiltered: opts.prefilteredContexts, onWalk: ctx.io.onContextWalk, contextWalk: ctx.io.contextWalk }, graph, session.hashCache, ctx.contextDirs);
  const vertices = new GraphVertices(graph, runner, { noCache: opts.noCache, noCacheStages: new Set(opts.noCacheFilter), sourceDateEpoch: env.sourceDateEpoch });
  // Imported caches load before the solve; the solver's cache is the local index, then them.
  const cacheIO = await CacheIOSession.open(store, ctx.cachePlan, progress, graph);
  const explainer = session.explainer(vertices.stepVertices);
  // A COPY that runs again links the files it left unchanged from its previous result.
  runner.previousResult = async (step) => {
    const vertex = vertices.stepVertices.find((s) => s.step === step)?.vertex;
    const key = vertex && await explainer.previousKey(vertex);
    return key ? store.index.get(key) : undefined;
  };
  const storeOnly = new StoreOnlyTracker();
  const solver = new Solver({
    cache: cacheIO.resultCache(storeOnly.wrap(store.index)),
    explainer,
    limiter: opts.limiter ?? new Limiter(opts.jobs ?? os.availableParallelism()),
    // Another build of this process (a server's) running a step this one needs: waited for.
    inFlight: store.inFlight,
    platform: formatPlatform(graph.target.platform),
    signal: ctx.signal,
    onEvent: (e) => {
      storeOnly.onEvent(e);
      progress.onEvent(e);
    },
    unwritten: (result) => env.layerWrites?.unwritten(result.layers),
    onRun: () => runner.prewarm(),
  });
  const { solved, published } = await solveAndPublish(solver, vertices.target(), env.layerWrites);
  let exported: Omit<BuildResult, 'warnings'>;
  try {
    exported = await exportSolved(env, opts, graph, ctx, { runner, cacheIO, solver, vertices, storeOnly, published }, solved);
  } catch (err) {
    // Settled before the build throws, nothing of it left running; a
    // failure of the solve's (a layer that could not be written fails its
    // step) is what the build reports.
    await published;
    throw err;
  }
  await published;
  return exported;
}

interface SolvedParts {
  runner: BuildStepRunner;
  cacheIO: CacheIOSession;
  solver: Solver<StepResult>;
  vertices: GraphVertices;
  storeOnly: StoreOnlyTracker;
  /** The whole solve written and its snapshots published (solveAndPublish). */
  published: Promise<void>;
}

async function exportSolved(env: StepEnv, opts: BuildOptions, graph: BuildGraph, ctx: SolveContext, parts: SolvedParts, solved: { result: StepResult }): Promise<Omit<BuildResult, 'warnings'>> {
  const { store } = env;
  const { progress } = ctx;
  const { runner, cacheIO, solver, vertices, storeOnly } = parts;
  ctx.session.saveChecksums();
  // The image's config and manifest need only its layers' digests: they
  // are written (each with its fsync) while the last layers' blobs are
  // made durable, and the image is named (exported) once those are in.
  const layersWritten = env.layerWrites?.unwritten(solved.result.layers);
  layersWritten?.catch(() => undefined); // awaited below
  await env.layerWrites?.undigested(solved.result.layers);
  const base = baseInfoOf(graph, graph.target);
  if (base.layerCount < 0) base.layerCount = await runner.baseLayerCount(graph.target);
  const { image, stored } = assembleImage(store.content, graph.target, solved.result, { now: new Date().toISOString(), epoch: env.sourceDateEpoch, base, annotations: opts.annotations });
  const blobsWritten = Promise.all([stored, layersWritten]).then(() => undefined);
  blobsWritten.catch(() => undefined); // awaited below
  let pushed: PushedManifest | undefined;
  if (ctx.cachePlan.imports.length > 0) await layersWritten;
  await cacheIO.ensureLocal(solved.result.layers); // lazily imported layers of the final image
  const attach = provenanceAttacher(store.content, opts, graph, ctx.startedOn);
  for (const exporter of ctx.exporters) {
    const task = progress.task(exporter.taskName);
    try {
      // Most outputs read the blobs; the image store's names them only once they are in.
      if (!exporter.startsBeforeBlobs) await blobsWritten;
      const exported = await exporter.export(image, store, { log: task.log.bind(task), openOutput: ctx.io.openOutput?.bind(ctx.io), ...(attach ? { attach } : {}), blobsWritten });
      if (exported?.pushed) pushed = exported.pushed;
      task.done();
    } catch (err) {
      task.fail(err);
      throw err;
    }
  }
  await blobsWritten;
  // --cache-to, after the image as with BuildKit, and after every step's result is written.
  if (ctx.cachePlan.exports.length > 0) await parts.published;
  await cacheIO.exportAll({ graph, stepVertices: vertices.stepVertices, solved: await solver.solvedEntries() });
  return {
    imageId: image.configDigest,
    manifestDigest: image.manifestDigest,
    metadata: buildMetadata(opts.tags, image, await store.content.size(image.manifestDigest), pushed),
    ...(ctx.cachePlan.imports.length > 0 ? {} : { storeOnlyKeys: storeOnly.keysIfStoreOnly(graph, opts.buildContexts ?? []), cacheKeys: storeOnly.keysUsed() }),
  };
}

// Solves the target; once the whole solve is done (the layers, cache
// entries and histories written in the background too), publishes the
// snapshots of the layers written in the background (failed or not: what
// was written is kept, what was not is removed). Only then may anything
// mount them by their snapshot's name. Resolves as soon as the target's
// result is there: the image is assembled and exported while the rest is
// written (it waits for its own layers' blobs), and `published` settles
// once it is all done, rejecting with the solve's failure or the
// publishing's. A failed solve rejects, once nothing of it is left running.
async function solveAndPublish(solver: Solver<StepResult>, target: Vertex<StepResult>, writes: LayerWrites | undefined) {
  const solving = solver.solve([target]);
  const published = solving.then(() => writes?.finish(), async (err: unknown) => {
    await writes?.finish().catch(() => undefined);
    throw err;
  });
  // Observed by the caller later on: not an unhandled rejection meanwhile.
  published.catch(() => undefined);
  try {
    const [solved] = await solver.results([target]);
    return { solved: solved!, published };
  } catch {
    // The solve's own error (its first failure), once everything settled.
    await published;
    throw new Error('tsbuild bug: a target failed while its solve succeeded');
  }
}
