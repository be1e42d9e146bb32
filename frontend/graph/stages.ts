// The stage table: what each FROM names (scratch, an earlier stage, an
// image), which stages each stage reads from (COPY --from, RUN --mount
// from=), cycle detection and the set of stages a target needs.
import { DockerfileError } from '../errors.js';
import { expandWord } from '../shell/index.js';
import type { Instruction, Stage } from '../instructions/index.js';
import { errorAt, toLocation } from './location.js';
import { parseImageReference, ReferenceError, type ImageReference } from './reference.js';
import type { BaseImage, Location, NamedContext, Platform } from './types.js';

/** One instruction to dispatch, with where errors about it point (ONBUILD triggers point at the FROM that ran them). */
export interface Command {
  readonly inst: Instruction;
  readonly loc: Location;
  readonly onbuild: boolean;
}

export type BaseRef =
  | { readonly kind: 'scratch' }
  | { readonly kind: 'context'; readonly name: string }
  | { readonly kind: 'stage'; readonly node: StageNode }
  | { readonly kind: 'image'; readonly ref: ImageReference };

/** What a `--from` / `from=` value names. */
export type SourceRef =
  | { readonly kind: 'stage'; readonly node: StageNode }
  | { readonly kind: 'image'; readonly ref: ImageReference }
  | { readonly kind: 'context'; readonly name: string };

export interface StageNode {
  readonly index: number;
  readonly stage: Stage;
  readonly name?: string;
  /** For messages: the name, or `stage-N` as BuildKit calls unnamed stages. */
  readonly displayName: string;
  readonly loc: Location;
  /** The FROM argument after expansion with the global args. */
  readonly baseName: string;
  readonly platform: Platform;
  /** True when --platform was given (then BuildKit does not check the base image's platform against the target). */
  readonly explicitPlatform: boolean;
  readonly base: BaseRef;
  /** Resolved base image config, when base.kind === 'image'. */
  baseImage?: BaseImage;
  /** ONBUILD triggers inherited from the base, prepended to `commands` once known. */
  triggersLoaded: boolean;
  commands: Command[];
  /** Stages this one reads from, with the instruction that does (for the cycle message). */
  readonly deps: Map<StageNode, Location>;
  /** Images read with COPY --from / RUN --mount from=, by normalized reference. */
  readonly imageDeps: Map<string, { ref: ImageReference; loc: Location }>;
}

export function findStageByName(nodes: readonly StageNode[], name: string): StageNode | undefined {
  const lower = name.toLowerCase();
  // A later duplicate name wins, as in BuildKit's name table.
  for (let i = nodes.length - 1; i >= 0; i--) if (nodes[i]!.name === lower) return nodes[i];
  return undefined;
}

function parseRef(text: string, loc: Location, what: string): ImageReference {
  try {
    return parseImageReference(text);
  } catch (e) {
    if (e instanceof ReferenceError) throw errorAt(loc, 'BAD_REFERENCE', `failed to parse ${what} ${JSON.stringify(text)}: ${e.message}`);
    throw e;
  }
}

/**
 * What `COPY --from=X` / `--mount=from=X` names: a stage by name or by
 * index, else an image. BuildKit does not expand variables here (a stage
 * can't be chosen by build arg); say so instead of failing obscurely.
 */
export function lookupSource(nodes: readonly StageNode[], from: string, loc: Location, escape: '\\' | '`', contexts?: ReadonlyMap<string, NamedContext>): SourceRef {
  let literal: string;
  try {
    literal = expandWord(from, () => undefined, { escape });
  } catch {
    literal = '';
  }
  if (literal !== from) {
    throw errorAt(
      loc,
      'FROM_EXPANSION',
      'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
    );
  }
  // A --build-context of that name wins over a stage or image of that name.
  const named = contexts?.get(from);
  if (named?.type === 'local') return { kind: 'context', name: from };
  if (named?.type === 'image') return { kind: 'image', ref: parseRef(named.ref, loc, 'image name') };
  if (named?.type === 'stage') {
    const node = findStageByName(nodes, named.name);
    if (!node) throw errorAt(loc, 'UNKNOWN_STAGE', `--build-context ${from}=target:${named.name}: no stage named ${JSON.stringify(named.name)}`);
    return { kind: 'stage', node };
  }
  if (/^\d+$/.test(from)) {
    const index = Number(from);
    const node = nodes[index];
    if (!node) throw errorAt(loc, 'BAD_STAGE_INDEX', `invalid stage index ${from}: the Dockerfile has ${nodes.length} stage(s), numbered from 0`);
    return { kind: 'stage', node };
  }
  const node = findStageByName(nodes, from);
  if (node) return { kind: 'stage', node };
  return { kind: 'image', ref: parseRef(from, loc, 'image name') };
}

/** The `from` values an instruction reads (COPY --from, RUN --mount from=). */
function sourcesOf(inst: Instruction): string[] {
  if (inst.kind === 'COPY' && inst.from !== undefined) return [inst.from];
  if (inst.kind === 'RUN') return inst.mounts.flatMap((m) => (m.from !== undefined && m.from !== '' ? [m.from] : []));
  return [];
}

/** Records the stages and images `commands` read. */
export function addDependencies(node: StageNode, commands: readonly Command[], nodes: readonly StageNode[], escape: '\\' | '`', contexts?: ReadonlyMap<string, NamedContext>): boolean {
  let added = false;
  for (const cmd of commands) {
    for (const from of sourcesOf(cmd.inst)) {
      const src = lookupSource(nodes, from, cmd.loc, escape, contexts);
      if (src.kind === 'stage') {
        if (!node.deps.has(src.node)) node.deps.set(src.node, cmd.loc);
      } else if (src.kind === 'image') {
        node.imageDeps.set(src.ref.normalized, { ref: src.ref, loc: cmd.loc });
      }
      added = true;
    }
  }
  return added;
}

export interface BaseSpec {
  readonly baseName: string;
  /** FROM names a --build-context directory (its name). */
  readonly contextBase?: string;
  readonly platform: Platform;
  readonly explicitPlatform: boolean;
}

/** Creates the node for `stage`, whose FROM expanded to `spec`; `earlier` are the stages above it. */
export function createStageNode(stage: Stage, spec: BaseSpec, earlier: readonly StageNode[], later: readonly Stage[], file: string): StageNode {
  const loc = toLocation(stage.from.location, file);
  let base: BaseRef;
  if (spec.contextBase !== undefined) {
    base = { kind: 'context', name: spec.contextBase };
  } else if (spec.baseName === 'scratch') {
    base = { kind: 'scratch' };
  } else {
    const parent = findStageByName(earlier, spec.baseName);
    if (parent) {
      base = { kind: 'stage', node: parent };
    } else {
      const forward = later.find((s) => s.name === spec.baseName.toLowerCase());
      if (forward) {
        throw errorAt(
          loc,
          'FORWARD_STAGE_REFERENCE',
          `FROM ${spec.baseName}: stage ${JSON.stringify(forward.name)} is defined later (line ${forward.from.location.startLine}); a stage can only be based on a stage defined before it`,
        );
      }
      base = { kind: 'image', ref: parseRef(spec.baseName, loc, 'stage name') };
    }
  }
  const node: StageNode = {
    index: stage.index,
    stage,
    ...(stage.name !== undefined ? { name: stage.name } : {}),
    displayName: stage.name ?? `stage-${stage.index}`,
    loc,
    baseName: spec.baseName,
    // A stage built on a stage runs on that stage's platform (BuildKit's init() copies it).
    platform: base.kind === 'stage' ? base.node.platform : spec.platform,
    explicitPlatform: spec.explicitPlatform,
    base,
    triggersLoaded: false,
    commands: stage.instructions.map((inst) => ({ inst, loc: toLocation(inst.location, file), onbuild: false })),
    deps: new Map(),
    imageDeps: new Map(),
  };
  return node;
}

/**
 * BuildKit's validateCircularDependency: a stage may not (indirectly) read
 * from itself. A depth-first walk with its own stack: a chain of thousands of
 * stages must not overflow the call stack.
 */
export function checkCycles(nodes: readonly StageNode[]): void {
  const visited = new Set<StageNode>();
  const onPath = new Set<StageNode>();
  for (const root of nodes) {
    if (visited.has(root)) continue;
    // `via`: the location of the edge that led to the frame's node.
    const stack: Array<{ node: StageNode; deps: Iterator<[StageNode, Location]>; via?: Location }> = [{ node: root, deps: root.deps.entries() }];
    visited.add(root);
    onPath.add(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const step = top.deps.next();
      if (step.done) {
        onPath.delete(top.node);
        stack.pop();
        continue;
      }
      const [dep, loc] = step.value;
      if (onPath.has(dep)) {
        // Reported at the first edge of the path from the stage where the walk began.
        throw errorAt(stack[1]?.via ?? loc, 'STAGE_CYCLE', `circular dependency detected on stage: ${root.displayName}`);
      }
      if (visited.has(dep)) continue;
      visited.add(dep);
      onPath.add(dep);
      stack.push({ node: dep, deps: dep.deps.entries(), via: loc });
    }
  }
}

/** The target and every stage it needs (base stages and stages it reads from). */
export function reachableStages(target: StageNode): Set<StageNode> {
  const seen = new Set<StageNode>([target]);
  const work = [target];
  for (let node = work.pop(); node; node = work.pop()) {
    const next = [...(node.base.kind === 'stage' ? [node.base.node] : []), ...node.deps.keys()];
    for (const n of next) {
      if (seen.has(n)) continue;
      seen.add(n);
      work.push(n);
    }
  }
  return seen;
}

export function unknownTargetError(target: string, nodes: readonly StageNode[], suggestion: string | undefined): DockerfileError {
  const names = nodes.flatMap((n) => (n.name ? [n.name] : []));
  const available = names.length > 0 ? `available stages: ${names.join(', ')}` : 'the Dockerfile has no named stages';
  const hint = suggestion ? ` (did you mean ${suggestion}?)` : '';
  return new DockerfileError('UNKNOWN_TARGET', `target stage ${JSON.stringify(target)} could not be found${hint}; ${available}`);
}
