// Turns the frontend's stage plans into solver vertices. Each vertex's
// description is everything that determines its result besides its inputs:
// that is its cache key material (see solver/vertex.ts).
import type { BuildGraph, CopyStep, FileSource, Location, RunStep, StagePlan, Step, WorkdirStep } from '../../frontend/graph/types.js';
import type { ExecContext, Vertex } from '../solver/vertex.js';
import type { StepResult } from '../store/step-result.js';
import type { StepRunner } from '../steps/types.js';

export interface VertexOptions {
  noCache: boolean;
  noCacheStages: Set<string>;   // --no-cache-filter: stage names or indexes
  // SOURCE_DATE_EPOCH: layers made with it have clamped timestamps, so it
  // keys them; a build with it never reuses a layer cached without it (or
  // with another epoch), and gives the same image whatever the cache holds.
  sourceDateEpoch?: number;
}

type V = Vertex<StepResult>;

// Step names as buildx shows them (dockerfile2llb's prefixCommand): the
// stage's name unless the Dockerfile has only one stage, then the step's
// number out of the stage's FROM (of an image) plus its RUN, COPY, ADD and
// WORKDIR steps, padded to the width of the total: `[build  3/12] RUN make`.
export function stageLabel(stage: StagePlan, stepNo: number, total: number, stageCount: number): string {
  const name = stageCount > 1 ? `${stage.name ?? `stage-${stage.index}`} ` : '';
  const width = Math.floor(1 + Math.log10(total));
  return `[${name}${String(stepNo).padStart(width)}/${total}]`;
}

function stageTotal(stage: StagePlan): number {
  return stage.steps.length + (stage.base.type === 'image' ? 1 : 0);
}

function locate(err: unknown, loc: Location): unknown {
  const e = err as { userError?: boolean; location?: unknown };
  if (e && typeof e === 'object' && e.userError === true && e.location === undefined) {
    e.location = { file: loc.file, line: loc.line, endLine: loc.endLine, sourceLine: loc.sourceLine };
  }
  return err;
}

export class GraphVertices {
  private readonly stageVertex = new Map<number, V>();
  private readonly imageVertex = new Map<string, V>();
  // Image sources whose files a step reads (a stage's base with steps, a
  // COPY --from or RUN --mount source): their FROM step unpacks them, as
  // BuildKit's does. An image only exported is never unpacked.
  private readonly imageFilesNeeded = new Set<V>();
  readonly stepVertices: { stage: StagePlan; step: Step; vertex: V }[] = [];
  private readonly fromLabel = new Map<string, string>();

  constructor(private readonly graph: BuildGraph, private readonly runner: StepRunner, private readonly opts: VertexOptions) {
    // An image several stages start FROM is one vertex, named after the first.
    for (const stage of graph.stages) {
      if (stage.base.type !== 'image') continue;
      const key = stage.base.image.digest ?? stage.base.ref;
      if (!this.fromLabel.has(key)) this.fromLabel.set(key, `${stageLabel(stage, 1, stageTotal(stage), graph.stageCount ?? graph.stages.length)} `);
    }
    for (const stage of graph.stages) this.stageVertex.set(stage.index, this.buildStage(stage));
  }

  target(): V {
    return this.stageVertex.get(this.graph.target.index)!;
  }

  private sourceVertex(src: FileSource): V | undefined {
    if (src.type === 'context') return undefined;
    if (src.type === 'stage') {
      const v = this.stageVertex.get(src.index);
      if (!v) throw new Error(`stage ${src.index} is used before it is planned`);
      return v;
    }
    const v = this.imageSource(src.ref, src.image.digest);
    this.imageFilesNeeded.add(v);
    return v;
  }

  private imageSource(ref: string, digest: string | undefined): V {
    const key = digest ?? ref;
    let v = this.imageVertex.get(key);
    if (!v) {
      const runner = this.runner;
      const self: V = v = {
        // `[1/4] FROM docker.io/library/busybox:latest@sha256:...` as buildx
        // shows it; an image only COPY --from reads has no step number.
        name: `${this.fromLabel.get(key) ?? ''}FROM ${ref}${digest ? `@${digest}` : ''}`,
        inputs: [],
        // Keyed by the image's config digest (its id), not
        // the manifest digest: the same image pulled, loaded or pushed with
        // other layer compression must give the same keys on every machine.
        describe: () => runner.describeImage(digest, ref),
        exec: async (ctx) => {
          const result = await runner.imageLayers(digest, ref);
          if (this.imageFilesNeeded.has(self)) await runner.extractLayers(result, ctx);
          return result;
        },
      };
      this.imageVertex.set(key, v);
    }
    return v;
  }

  private baseVertex(stage: StagePlan): V {
    const base = stage.base;
    if (base.type === 'scratch') {
      return { name: '[internal] scratch', hidden: true, inputs: [], describe: () => ({ op: 'scratch' }), exec: async () => ({ layers: [], stepAdded: [] }) };
    }
    if (base.type === 'stage') return this.stageVertex.get(base.index)!;
    if (base.type === 'context') {
      const runner = this.runner;
      const name = base.name;
      return { name: `[context ${name}] load from client`, inputs: [], describe: () => runner.describeContextBase(name), exec: (ctx) => runner.contextBase(name, ctx) };
    }
    const v = this.imageSource(base.ref, base.image.digest);
    if (stage.steps.length > 0) this.imageFilesNeeded.add(v);
    return v;
  }

  private buildStage(stage: StagePlan): V {
    let current = this.baseVertex(stage);
    const cacheable = !(this.opts.noCache || this.opts.noCacheStages.has(stage.name ?? '') || this.opts.noCacheStages.has(String(stage.index)));
    const total = stageTotal(stage);
    const first = total - stage.steps.length;
    stage.steps.forEach((step, i) => {
      const name = `${stageLabel(stage, first + i + 1, total, this.graph.stageCount ?? this.graph.stages.length)} ${step.display}`;
      current = this.stepVertex(step, current, name, cacheable);
      this.stepVertices.push({ stage, step, vertex: current });
    });
    return current;
  }

  private stepVertex(step: Step, parent: V, name: string, cacheable: boolean): V {
    const v = this.rawStepVertex(step, parent, name, cacheable);
    // A step's failure (while keying it or running it) points at its
    // instruction, as BuildKit's errors do.
    const fail = (err: unknown): never => { throw locate(err, step.loc); };
    const epoch = this.opts.sourceDateEpoch;
    const describe = epoch === undefined ? () => v.describe() : async () => ({ step: await v.describe(), sourceDateEpoch: epoch });
    return {
      ...v,
      describe: async () => { try { return await describe(); } catch (err) { return fail(err); } },
      exec: (ctx) => v.exec(ctx).catch(fail),
    };
  }

  private rawStepVertex(step: Step, parent: V, name: string, cacheable: boolean): V {
    const runner = this.runner;
    switch (step.kind) {
      case 'copy': {
        const from = this.sourceVertex(step.from);
        return {
          name, cacheable,
          inputs: from ? [parent, from] : [parent],
          describe: () => runner.describeCopy(step),
          exec: (ctx) => runner.copy(step, ctx.inputs[0], from ? ctx.inputs[1] : undefined, ctx),
        };
      }
      case 'workdir':
        return {
          name, cacheable, inputs: [parent],
          describe: () => ({ op: 'mkdir', path: step.path, user: step.user }),
          exec: (ctx) => runner.workdir(step, ctx.inputs[0], ctx),
        };
      case 'run': {
        const sources = step.mounts.map((m) => (m.from ? this.sourceVertex(m.from) : undefined)).filter((v): v is V => v !== undefined);
        return {
          name, cacheable,
          inputs: [parent, ...sources],
          describe: () => runner.describeRun(step),
          exec: (ctx) => runner.run(step, ctx.inputs[0], ctx.inputs.slice(1), ctx),
        };
      }
    }
  }
}

