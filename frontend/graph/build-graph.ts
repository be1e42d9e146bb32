// Typed Dockerfile + build options → BuildGraph, with BuildKit's semantics
// (dockerfile2llb/convert.go): global args, stage table, target pruning,
// base image resolution, ONBUILD triggers, then every needed stage
// dispatched in file order.
import { Linter } from '../checks/linter.js';
import { runStaticChecks } from '../checks/static-rules.js';
import { DockerfileError } from '../errors.js';
import type { Dockerfile } from '../instructions/index.js';
import { buildMetaArgs, isPredefinedArg, isProxyArg, predefinedArgs, proxyEnv, type ArgInfo } from './args.js';
import { dispatchStage } from './dispatch.js';
import { checkDefaultArgsInFrom, checkPinnedBase, expandFrom, type FromContext } from './from.js';
import { ImageResolver, resolveStages } from './resolve.js';
import type { BuildContext } from './scope.js';
import { addDependencies, checkCycles, createStageNode, findStageByName, reachableStages, unknownTargetError, type StageNode } from './stages.js';
import type { StageState } from './state.js';
import { suggestName } from './suggest.js';
import type { BuildGraph, NamedContext, Platform, ResolveImage, StageBase, StagePlan } from './types.js';
import type { VarList } from './variables.js';

export interface BuildGraphOptions {
  /** --build-arg values. */
  readonly buildArgs: ReadonlyMap<string, string>;
  /** --target: a stage name; the last stage when absent. */
  readonly target?: string;
  /** The platform the image is built for (TARGETPLATFORM). */
  readonly platform: Platform;
  /** The platform the build runs on (BUILDPLATFORM). */
  readonly buildPlatform: Platform;
  readonly resolveImage: ResolveImage;
  /** Name shown in locations; defaults to the parsed Dockerfile's name, then `Dockerfile`. */
  readonly file?: string;
  /** --label values, added to the target's config. */
  readonly labels?: ReadonlyMap<string, string>;
  /** --build-context NAME=...: what FROM NAME and --from=NAME read instead. */
  readonly namedContexts?: ReadonlyMap<string, NamedContext>;
}

export interface PlanOptions extends BuildGraphOptions {
  /** Dispatch every stage, not only those the target needs (`--call check` without --target). */
  readonly allStages?: boolean;
  /** Collect warnings here (so a caller still has them when planning fails); a new one from `# check=` otherwise. */
  readonly lint?: Linter;
}

/** A StagePlan plus the image's top-level `author` (set by MAINTAINER), which BuildGraph's types do not carry. */
export interface StagePlanWithAuthor extends StagePlan {
  author?: string;
}

/** Everything the planner learnt, for --call outline / check as well as the build. */
export interface BuildPlan {
  readonly graph: BuildGraph;
  readonly nodes: readonly StageNode[];
  readonly targetNode: StageNode;
  readonly states: ReadonlyMap<StageNode, StageState>;
  /** Global args the FROM lines used, per stage. */
  readonly fromArgs: ReadonlyMap<StageNode, ReadonlySet<string>>;
  readonly metaArgs: ReadonlyMap<string, ArgInfo>;
  readonly lint: Linter;
}

function findTarget(nodes: readonly StageNode[], target: string | undefined): StageNode {
  if (target === undefined || target === '') return nodes[nodes.length - 1]!;
  const node = findStageByName(nodes, target);
  if (node) return node;
  const names = nodes.flatMap((n) => (n.name ? [n.name] : []));
  throw unknownTargetError(target, nodes, suggestName(target, names, false));
}

function stageBase(node: StageNode): StageBase {
  switch (node.base.kind) {
    case 'scratch':
      return { type: 'scratch' };
    case 'context':
      return { type: 'context', name: node.base.name };
    case 'stage':
      return { type: 'stage', index: node.base.node.index };
    case 'image':
      return { type: 'image', ref: node.base.ref.normalized, image: node.baseImage! };
  }
}

function toPlan(node: StageNode, state: StageState): StagePlanWithAuthor {
  const plan: StagePlanWithAuthor = {
    index: node.index,
    ...(node.name !== undefined ? { name: node.name } : {}),
    loc: node.loc,
    base: stageBase(node),
    platform: state.platform,
    steps: state.steps,
    config: state.config,
    history: state.history,
  };
  if (state.author !== undefined) plan.author = state.author;
  return plan;
}

function buildStageNodes(df: Dockerfile, fromCtx: FromContext, lint: Linter): { nodes: StageNode[]; fromArgs: Map<StageNode, ReadonlySet<string>> } {
  const nodes: StageNode[] = [];
  const fromArgs = new Map<StageNode, ReadonlySet<string>>();
  for (const stage of df.stages) {
    const spec = expandFrom(stage, fromCtx, lint.forComments(stage.from.comments));
    const node = createStageNode(stage, spec, nodes, df.stages.slice(stage.index + 1), fromCtx.file);
    checkPinnedBase(node, lint.forComments(stage.from.comments));
    nodes.push(node);
    fromArgs.set(node, spec.used);
  }
  for (const node of nodes) addDependencies(node, node.commands, nodes, fromCtx.escape, fromCtx.namedContexts);
  return { nodes, fromArgs };
}

/** Plans the build without failing on `# check=error=true` (the caller decides). */
export async function planBuild(df: Dockerfile, opts: PlanOptions): Promise<BuildPlan> {
  const file = opts.file ?? df.file ?? 'Dockerfile';
  const escape = df.directives.escape;
  const lint = opts.lint ?? Linter.fromDirective(df.directives.check);
  runStaticChecks(df, lint, file);

  const targetStageName = opts.target || df.stages[df.stages.length - 1]?.name || 'default';
  const predefined = predefinedArgs(opts.platform, opts.buildPlatform, opts.buildArgs, targetStageName);
  const early: FromContext = { globalArgs: predefined, metaInfos: new Map(), targetPlatform: opts.platform, escape, file };
  checkDefaultArgsInFrom(df.stages, df.metaArgs, predefined, early, lint);
  const meta = buildMetaArgs(predefined, df.metaArgs, opts.buildArgs, escape, file);
  const usedBuildArgs = new Set([...meta.infos.keys()].filter((k) => opts.buildArgs.has(k)));

  const fromCtx: FromContext = { globalArgs: meta.args, metaInfos: meta.infos, targetPlatform: opts.platform, escape, file, namedContexts: opts.namedContexts };
  const { nodes, fromArgs } = buildStageNodes(df, fromCtx, lint);
  const targetNode = findTarget(nodes, opts.target);
  checkCycles(nodes);

  const resolver = new ImageResolver(opts.resolveImage, opts.platform);
  const needed = await resolveStages(nodes, targetNode, opts.allStages ?? false, resolver, lint, escape);

  const ctx: BuildContext = {
    nodes,
    states: new Map(),
    globalArgs: meta.args,
    buildArgValues: opts.buildArgs,
    usedBuildArgs,
    proxyEnv: proxyEnv(opts.buildArgs),
    escape,
    file,
    images: resolver.sourceImages,
    namedContexts: opts.namedContexts,
  };
  for (const node of nodes) if (needed.has(node)) dispatchStage(ctx, node, lint);

  const targetState = ctx.states.get(targetNode)!;
  if (opts.labels && opts.labels.size > 0) {
    targetState.config.Labels = { ...(targetState.config.Labels ?? {}), ...Object.fromEntries(opts.labels) };
  }

  // With allStages every stage was dispatched (for lint), but the graph lists only what the target needs.
  const forTarget = reachableStages(targetNode);
  const stages = nodes.filter((n) => forTarget.has(n));
  const plans = new Map(stages.map((n) => [n, toPlan(n, ctx.states.get(n)!)]));
  const ignoredArg = (k: string) => isPredefinedArg(k) || isProxyArg(k);
  const graph: BuildGraph = {
    stages: [...plans.values()],
    target: plans.get(targetNode)!,
    stageCount: nodes.length + resolver.sourceImages.size,
    buildArgsUsed: [...opts.buildArgs.keys()].filter((k) => usedBuildArgs.has(k)),
    unusedBuildArgs: [...opts.buildArgs.keys()].filter((k) => !usedBuildArgs.has(k) && !ignoredArg(k)),
    warnings: [...lint.warnings],
  };
  return { graph, nodes, targetNode, states: ctx.states, fromArgs, metaArgs: meta.infos, lint };
}

/**
 * The frontend's main entry: plans the build of `opts.target`. Lint
 * warnings are in `warnings`; with `# check=error=true` any warning fails
 * the build, as in BuildKit.
 * @throws DockerfileError for anything wrong in the Dockerfile or its options
 */
export async function buildGraph(df: Dockerfile, opts: BuildGraphOptions): Promise<BuildGraph> {
  const plan = await planBuild(df, opts);
  const failure = plan.lint.failure();
  if (failure) throw new DockerfileError('LINT_FAILED', failure);
  return plan.graph;
}
