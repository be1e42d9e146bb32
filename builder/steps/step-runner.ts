// The builder's side of the solver's vertices: each method performs one
// kind of step (image source, COPY/ADD, WORKDIR, RUN) against the store.
import type { BuildGraph, CopyStep, RunStep, StagePlan, WorkdirStep } from '../../frontend/graph/types.js';
import { toDigest } from '../../cache/digest.js';
import { BuildContext, type ContextWalkEntry } from '../context/context.js';
import { checksumSelection, MemoryContentHashCache, type ContentHashCache } from '../context/checksum.js';
import { mkdirAllInRoot } from '../fileops/fs-write.js';
import { readImage, type ImageDescription } from '../image/image.js';
import type { StepResult } from '../store/step-result.js';
import type { StepEnv, StepRunner } from './types.js';
import type { ExecContext } from '../solver/vertex.js';
import { describeCopy, runCopy, type SelectionChecksum } from './copy-step.js';
import { memoizedSelection } from '../context/selection-memo.js';
import { describeRun, runStep } from './run-step.js';
import { commitStep, lowerDirsOf, withMutableRootfs } from './rootfs.js';
import { directoryInLowers } from '../snapshots/lower-lookup.js';
import { resolveUserInLayers } from './user.js';
import { privateFsop } from '../../runner-native/fsop.js';
import { inUserNamespace, netnsHolderChild, sandboxHelperChild } from '../../runner-native/index.js';

// Where the build context is: its directory, and the Dockerfile when it
// lives inside it (BuildKit never sends .dockerignore'd files, but the
// Dockerfile and .dockerignore themselves are always readable).
export interface ContextLocation {
  contextDir: string;
  dockerfilePath?: string;
  /** Names the context's content, when the caller knows it (BuildOptions.contextDigest). */
  contextDigest?: string;
  /** BuildOptions.prefilteredContexts. */
  prefiltered?: readonly string[];
  /** BuildIO.onContextWalk. */
  onWalk?: (entries: readonly ContextWalkEntry[], whole: boolean) => void;
  /** BuildIO.contextWalk. */
  contextWalk?: 'keep' | 'reuse';
}

export class BuildStepRunner implements StepRunner {
  private readonly contexts = new Map<string, Promise<BuildContext>>();
  // Base images by manifest digest: keying a FROM and giving its layers
  // read the same two blobs (read-only uses; the resolver's copy is apart).
  private readonly images = new Map<string, Promise<ImageDescription>>();
  // The result of a step's previous build, when one is remembered.
  previousResult?: (step: CopyStep) => Promise<StepResult | undefined>;
  private prewarmed = false;

  // Content digests by (dev, ino, size, mtime, ctime): persisted between builds by the caller.
  private readonly hashCache: ContentHashCache;

  constructor(private readonly env: StepEnv, private readonly location: ContextLocation, private readonly graph: BuildGraph,
    hashCache: ContentHashCache = new MemoryContentHashCache(),
    // --build-context directories, by name.
    private readonly namedDirs: ReadonlyMap<string, string> = new Map()) {
    this.hashCache = startingFsopOnLoad(hashCache, () => this.prewarmFsop());
  }

  private get store() {
    return this.env.store;
  }

  // The build context, or the --build-context directory of that name (with its own .dockerignore).
  private context = (name?: string): Promise<BuildContext> => {
    const key = name ?? '';
    let ctx = this.contexts.get(key);
    if (!ctx) {
      const dir = name === undefined ? this.location.contextDir : this.namedDirs.get(name);
      if (dir === undefined) throw new Error(`tsbuild bug: no build context named ${name}`);
      const options = this.location.prefiltered?.includes(key) ? { ignorePatterns: [] } : name === undefined ? { dockerfilePath: this.location.dockerfilePath, onWalk: this.location.onWalk } : {};
      ctx = BuildContext.open(dir, options);
      this.contexts.set(key, ctx);
    }
    return ctx;
  };

  // Checksums of the build context go through a process-wide memo when its
  // content is known by digest; --build-context directories never do.
  private selectionChecksum(name: string | undefined): SelectionChecksum {
    const contentId = name === undefined ? this.location.contextDigest : undefined;
    const contextWalk = name === undefined ? this.location.contextWalk : undefined;
    return (patterns, options) => memoizedSelection(contentId, this.location.dockerfilePath ?? '', () => this.context(name), patterns, { ...options, cache: this.hashCache, contextWalk });
  }

  async imageLayers(manifestDigest: string | undefined, ref: string): Promise<StepResult> {
    if (!manifestDigest) throw new Error(`image ${ref} was resolved without a digest`);
    const image = await this.image(manifestDigest);
    return {
      layers: image.layers.map((l) => ({ diffId: l.diffId, blob: l.digest, size: l.size, mediaType: l.mediaType })),
      stepAdded: [],
    };
  }

  private image(manifestDigest: string): Promise<ImageDescription> {
    let image = this.images.get(manifestDigest);
    if (!image) {
      image = readImage(this.store.content, toDigest(manifestDigest));
      this.images.set(manifestDigest, image);
      image.catch(() => this.images.delete(manifestDigest));
    }
    return image;
  }

  async extractLayers(result: StepResult, ctx: ExecContext<StepResult>): Promise<void> {
    await lowerDirsOf(this.store, result, ctx.status);
  }

  // The cache key material of an image source: its
  // config digest, which names the same content whatever the compression
  // of the copy this machine holds (see vertices.ts).
  async describeImage(manifestDigest: string | undefined, ref: string): Promise<unknown> {
    if (!manifestDigest) return { op: 'image', digest: ref };
    const image = await this.image(manifestDigest);
    return { op: 'image', digest: image.configDigest };
  }

  // Layers of the image at the root of a stage's chain (0 for scratch).
  async baseLayerCount(stage: StagePlan): Promise<number> {
    let s = stage;
    for (;;) {
      if (s.base.type === 'scratch') return 0;
      if (s.base.type === 'context') return 1;
      if (s.base.type === 'image') return (await this.imageLayers(s.base.image.digest, s.base.ref)).layers.length;
      const index = s.base.index;
      s = this.graph.stages.find((x) => x.index === index)!;
    }
  }

  // FROM <--build-context directory>: keyed by the files it holds.
  async describeContextBase(name: string): Promise<unknown> {
    return { op: 'context-base', content: await checksumSelection(await this.context(name), ['.'], { cache: this.hashCache }) };
  }

  // Its files (through its .dockerignore) as the stage's first layer.
  contextBase(name: string, ctx: ExecContext<StepResult>): Promise<StepResult> {
    return withMutableRootfs(this.store, { layers: [], stepAdded: [] }, this.env.sourceDateEpoch, async (root) => {
      const { copy } = await import('../fileops/copy.js');
      await copy({ instruction: 'COPY', sources: ['.'], dest: '/' }, { destRoot: root, source: await this.context(name), tmpDir: this.store.paths.state, signal: ctx.signal });
    }, undefined, this.env.layerWrites).then((r) => ({ layers: r.layers, stepAdded: [] }));
  }

  describeCopy(step: CopyStep): Promise<unknown> {
    return describeCopy(step, this.selectionChecksum(contextName(step)));
  }

  copy(step: CopyStep, parent: StepResult, from: StepResult | undefined, ctx: ExecContext<StepResult>): Promise<StepResult> {
    return runCopy(this.env, { step, parent, from, context: () => this.context(contextName(step)), signal: ctx.signal, previous: this.previousResult, hashCache: this.hashCache });
  }

  async workdir(step: WorkdirStep, parent: StepResult): Promise<StepResult> {
    const lowerDirs = await lowerDirsOf(this.store, parent);
    // Already a directory: nothing to create, so no overlay to mount for
    // it; the step gets the empty layer a mount that changed nothing gives.
    if (await directoryInLowers(lowerDirs, step.path)) return commitStep(this.store, parent, await this.store.snapshots.workspace(), { sourceDateEpoch: this.env.sourceDateEpoch }, this.env.layerWrites);
    // The directory belongs to the current USER, as BuildKit creates it.
    const owner = step.user ? await resolveUserInLayers(lowerDirs, step.user) : null;
    return withMutableRootfs(this.store, parent, this.env.sourceDateEpoch, async (root) => {
      await mkdirAllInRoot(root, step.path, { mode: 0o755, owner: owner ? { uid: owner.uid, gid: owner.gid } : null });
    }, undefined, this.env.layerWrites);
  }

  async describeRun(step: RunStep): Promise<unknown> {
    // A bind mount of the context is keyed by the content it exposes.
    const digests = await Promise.all(step.mounts.map(async (m) => {
      if (m.type !== 'bind' || (m.from && m.from.type !== 'context')) return undefined;
      const src = (m.source ?? '/').replace(/^\/+/, '') || '.';
      return this.selectionChecksum(m.from?.type === 'context' ? m.from.name : undefined)([src], {});
    }));
    return describeRun(step, digests, this.env.runResources, this.env.network);
  }

  run(step: RunStep, parent: StepResult, sources: StepResult[], ctx: ExecContext<StepResult>): Promise<StepResult> {
    return runStep(this.env, { step, parent, sources, context: this.context, ctx });
  }

  // A step is about to run (the solver found no cached result), so the
  // build does work: the helpers it needs are started now, while the miss
  // is explained, rather than by the step itself (once per build; a no-op
  // build never gets here). The file-operations helper serves every step
  // that runs (COPY mounts through it, every layer write reads xattrs
  // through it); a RUN with a network of its own may follow, and its
  // namespace takes two process starts.
  prewarm(): void {
    if (this.prewarmed) return;
    this.prewarmed = true;
    this.prewarmFsop();
    if (!this.runsWithOwnNetwork()) return;
    // On the next turn of the event loop, not now: starting the holder
    // blocks this thread until it runs (a fork of this process), which the
    // step about to run (a COPY before the RUN) is better off spending
    // waiting for its own first I/O. (Usually the fsop helper started one,
    // see prewarmFsop: then the pool only takes it.)
    setImmediate(() => void import('../../runner-native/index.js').then((m) => m.prewarmNetworkNamespace(), () => undefined));
  }

  private runsWithOwnNetwork(): boolean {
    return this.hasRun((s) => (s.network === 'default' ? this.env.network ?? 'default' : s.network) === 'default');
  }

  private hasRun(which: (s: RunStep) => boolean = () => true): boolean {
    return this.graph.stages.some((stage) => stage.steps.some((s) => s.kind === 'run' && which(s)));
  }

  private prewarmFsop(): void {
    // Only where steps mount with the kernel's overlayfs as root: the same test as the snapshotter's choice.
    if (inUserNamespace()) return;
    // What a RUN will need, started by the helper as it starts (a fork of
    // it, not of this process): the network namespace's holder
    // (network-pool.ts takes it) and the sandbox helper (sandbox.ts).
    const runsNative = this.env.runtime === 'native' && this.hasRun();
    privateFsop([...(this.runsWithOwnNetwork() ? [netnsHolderChild()] : []), ...(runsNative ? [sandboxHelperChild()] : [])]);
  }
}

// A context selection whose files changed since it was remembered (its
// fingerprint is new) has the checksum read the per-file table: a step
// will almost surely run. The file-operations helper is started then,
// while the table is read and the changed files are hashed, rather than
// once the key is made and missed (its start blocks this thread for a
// fork). A no-op rebuild never gets there; an idle helper keeps nothing
// alive and ends with tsbuild.
function startingFsopOnLoad(cache: ContentHashCache, start: () => void): ContentHashCache {
  return {
    get: (hostPath, key) => cache.get(hostPath, key),
    set: (hostPath, key, digest) => cache.set(hostPath, key, digest),
    noteSelection: (digest, entries) => cache.noteSelection?.(digest, entries),
    load: () => {
      const loading = cache.load?.() ?? Promise.resolve();
      // Only a cache that remembers selections loads for a change; another loads for every selection.
      if (cache.selectionDigest) start();
      return loading;
    },
    ...(cache.selectionDigest && cache.rememberSelection ? {
      selectionDigest: (key: string, fingerprint: string) => cache.selectionDigest!(key, fingerprint),
      rememberSelection: (key: string, fingerprint: string, digest: string, trustedFrom: number) => cache.rememberSelection!(key, fingerprint, digest, trustedFrom),
    } : {}),
  };
}

function contextName(step: CopyStep): string | undefined {
  return step.from.type === 'context' ? step.from.name : undefined;
}
