// `--call outline`: the build args, secrets and ssh a build of the target
// would use (BuildKit's Dockerfile2Outline + PrintOutline).
import type { Dockerfile } from '../instructions/index.js';
import { docComment, type ArgInfo } from '../graph/args.js';
import { planBuild, type BuildGraphOptions, type BuildPlan } from '../graph/build-graph.js';
import type { StageNode } from '../graph/stages.js';
import { tabulate } from './tabwriter.js';

export interface OutlineArg {
  readonly name: string;
  readonly value?: string;
  readonly description: string;
  readonly line: number;
}

export interface OutlineMount {
  /** The secret or ssh id. */
  readonly name: string;
  readonly required: boolean;
  readonly line: number;
}

export interface Outline {
  readonly name?: string;
  readonly description: string;
  readonly args: OutlineArg[];
  readonly secrets: OutlineMount[];
  readonly ssh: OutlineMount[];
}

/**
 * The target and the stages it needs, target first, then bases and sources
 * depth-first (BuildKit's visiting order). Its own stack: stage chains may
 * be thousands long.
 */
function visitOrder(target: StageNode): StageNode[] {
  const out: StageNode[] = [];
  const seen = new Set<StageNode>();
  const work = [target];
  for (let n = work.pop(); n; n = work.pop()) {
    if (seen.has(n)) continue;
    seen.add(n);
    out.push(n);
    const next = [...(n.base.kind === 'stage' ? [n.base.node] : []), ...n.deps.keys()];
    for (let i = next.length - 1; i >= 0; i--) work.push(next[i]!);
  }
  return out;
}

function collectArgs(plan: BuildPlan, order: StageNode[]): OutlineArg[] {
  const found = new Map<string, ArgInfo>();
  // A meta ARG is used when a FROM line references it or a stage re-declares it; its default may pull in others.
  const markMeta = (name: string, seen = new Set<string>()) => {
    if (seen.has(name)) return;
    seen.add(name);
    const info = plan.metaArgs.get(name);
    if (!info) return;
    if (!found.has(name)) found.set(name, info);
    for (const dep of info.deps) markMeta(dep, seen);
  };
  for (const node of order) {
    const state = plan.states.get(node);
    for (const name of state?.usedArgs ?? []) {
      const own = state?.argInfos.get(name);
      if (own) {
        if (!found.has(name)) found.set(name, own);
      } else markMeta(name);
    }
    for (const name of plan.fromArgs.get(node) ?? []) markMeta(name);
  }
  return [...found.values()]
    .sort((a, b) => a.loc.line - b.loc.line)
    .map((a) => ({ name: a.name, ...(a.value !== undefined ? { value: a.value } : {}), description: a.description, line: a.loc.line }));
}

function collectMounts(plan: BuildPlan, order: StageNode[], kind: 'secrets' | 'ssh'): OutlineMount[] {
  const found = new Map<string, OutlineMount>();
  for (const node of order) {
    for (const [id, use] of plan.states.get(node)?.[kind] ?? []) {
      if (!found.has(id)) found.set(id, { name: id, required: use.required, line: use.loc.line });
    }
  }
  return [...found.values()].sort((a, b) => a.line - b.line);
}

export async function outlineBuild(df: Dockerfile, opts: BuildGraphOptions): Promise<Outline> {
  const plan = await planBuild(df, opts);
  const order = visitOrder(plan.targetNode);
  const stage = plan.targetNode.stage;
  return {
    ...(stage.name !== undefined ? { name: stage.name } : {}),
    description: docComment(stage.from.comments, stage.name),
    args: collectArgs(plan, order),
    secrets: collectMounts(plan, order, 'secrets'),
    ssh: collectMounts(plan, order, 'ssh'),
  };
}

/** The text docker buildx prints for `--call outline`. */
export function formatOutline(o: Outline): string {
  let out = '';
  if (o.name || o.description) {
    const rows = [['TARGET:', o.name || '(default)']];
    if (o.description) rows.push(['DESCRIPTION:', o.description]);
    out += tabulate(rows, 1) + '\n';
  }
  if (o.args.length > 0) {
    out += tabulate([['BUILD ARG', 'VALUE', 'DESCRIPTION'], ...o.args.map((a) => [a.name, a.value ?? '', a.description])], 3) + '\n';
  }
  for (const [title, list] of [['SECRET', o.secrets], ['SSH', o.ssh]] as const) {
    if (list.length === 0) continue;
    out += tabulate([[title, 'REQUIRED'], ...list.map((s) => [s.name, s.required ? 'true' : ''])], 3) + '\n';
  }
  return out;
}
