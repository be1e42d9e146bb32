// What a dispatcher sees while handling one instruction: the build-wide
// context, the stage, the instruction's location and linter, and an
// expander bound to the stage's variables.
import type { Linter } from '../checks/linter.js';
import { errorAt } from './location.js';
import type { Expander } from './expander.js';
import { lookupSource, type Command, type StageNode } from './stages.js';
import type { StageState } from './state.js';
import type { BaseImage, FileSource, Location, NamedContext } from './types.js';
import type { VarList } from './variables.js';

export interface BuildContext {
  readonly nodes: readonly StageNode[];
  readonly states: Map<StageNode, StageState>;
  /** Global scope: predefined args + meta ARGs (build args applied). */
  readonly globalArgs: VarList;
  readonly buildArgValues: ReadonlyMap<string, string>;
  /** --build-arg names some ARG declared (the rest are reported unused). */
  readonly usedBuildArgs: Set<string>;
  /** `NAME=value` proxy variables from --build-arg, given to RUN only. */
  readonly proxyEnv: readonly string[];
  readonly escape: '\\' | '`';
  readonly file: string;
  /** Images read by COPY --from / RUN --mount from=, by normalized reference. */
  readonly images: ReadonlyMap<string, BaseImage>;
  readonly namedContexts?: ReadonlyMap<string, NamedContext>;
}

export interface Scope {
  readonly ctx: BuildContext;
  readonly node: StageNode;
  readonly state: StageState;
  readonly cmd: Command;
  readonly loc: Location;
  readonly lint: Linter;
  readonly expand: Expander;
}

/**
 * Resolves `--from` / `from=` to a file source. A stage must already be
 * dispatched, i.e. defined above the current one (`what` words the error).
 */
export function fileSource(scope: Scope, from: string, notYet: (stage: string) => string): FileSource {
  const ref = lookupSource(scope.ctx.nodes, from, scope.loc, scope.ctx.escape, scope.ctx.namedContexts);
  if (ref.kind === 'context') return { type: 'context', name: ref.name };
  if (ref.kind === 'image') {
    const image = scope.ctx.images.get(ref.ref.normalized);
    if (!image) throw new Error(`tsbuild bug: image ${ref.ref.normalized} was not resolved before dispatch`);
    return { type: 'image', ref: ref.ref.normalized, image };
  }
  const state = scope.ctx.states.get(ref.node);
  if (!state?.dispatched) throw errorAt(scope.loc, 'STAGE_ORDER', notYet(ref.node.displayName));
  return { type: 'stage', index: ref.node.index };
}

/** The display text of a step, as BuildKit's progress shows it: the instruction with the keyword upper-cased. */
export function displayName(text: string): string {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  return space < 0 ? trimmed.toUpperCase() : trimmed.slice(0, space).toUpperCase() + trimmed.slice(space);
}
