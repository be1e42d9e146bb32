// Dispatches one stage: set up its starting state from its base, then run
// its commands (ONBUILD triggers first) in order.
import type { Linter } from '../checks/linter.js';
import type { Instruction } from '../instructions/index.js';
import { dispatchCmd, dispatchEntrypoint, dispatchHealthcheck } from './dispatch-command.js';
import { dispatchCopy, dispatchWorkdir } from './dispatch-files.js';
import {
  dispatchArg, dispatchEnv, dispatchExpose, dispatchLabel, dispatchMaintainer,
  dispatchOnbuild, dispatchShell, dispatchStopsignal, dispatchUser, dispatchVolume,
} from './dispatch-meta.js';
import { dispatchRun } from './dispatch-run.js';
import { Expander } from './expander.js';
import { errorAt } from './location.js';
import type { BuildContext, Scope } from './scope.js';
import type { Command, StageNode } from './stages.js';
import { StageState } from './state.js';

function dispatchInstruction(scope: Scope, inst: Instruction): void {
  switch (inst.kind) {
    case 'ENV': return dispatchEnv(scope, inst);
    case 'LABEL': return dispatchLabel(scope, inst);
    case 'ARG': return dispatchArg(scope, inst);
    case 'USER': return dispatchUser(scope, inst);
    case 'EXPOSE': return dispatchExpose(scope, inst);
    case 'VOLUME': return dispatchVolume(scope, inst);
    case 'STOPSIGNAL': return dispatchStopsignal(scope, inst);
    case 'SHELL': return dispatchShell(scope, inst);
    case 'MAINTAINER': return dispatchMaintainer(scope, inst);
    case 'ONBUILD': return dispatchOnbuild(scope, inst);
    case 'CMD': return dispatchCmd(scope, inst);
    case 'ENTRYPOINT': return dispatchEntrypoint(scope, inst);
    case 'HEALTHCHECK': return dispatchHealthcheck(scope, inst);
    case 'RUN': return dispatchRun(scope, inst);
    case 'COPY':
    case 'ADD':
      return dispatchCopy(scope, inst);
    case 'WORKDIR': return dispatchWorkdir(scope, inst);
    case 'FROM':
      throw errorAt(scope.loc, 'BAD_INSTRUCTION', 'FROM cannot appear inside a stage');
  }
}

function initialState(ctx: BuildContext, node: StageNode): StageState {
  switch (node.base.kind) {
    case 'scratch':
    case 'context':
      // A directory context brings files, not an image config: as scratch.
      return StageState.scratch(node.platform);
    case 'image':
      if (!node.baseImage) throw new Error(`tsbuild bug: base image of stage ${node.displayName} was not resolved`);
      return StageState.fromImage(node.baseImage, node.platform);
    case 'stage': {
      const base = ctx.states.get(node.base.node);
      if (!base?.dispatched) throw new Error(`tsbuild bug: stage ${node.base.node.displayName} dispatched after its child`);
      return StageState.fromStage(base);
    }
  }
}

export function dispatchStage(ctx: BuildContext, node: StageNode, lint: Linter): StageState {
  const state = initialState(ctx, node);
  // ONBUILD triggers of the base image ran as this stage's first commands; the image keeps none of them.
  if (node.base.kind === 'image' && state.config.OnBuild) delete state.config.OnBuild;
  ctx.states.set(node, state);
  for (const cmd of node.commands) dispatchCommand(ctx, node, state, cmd, lint);
  state.dispatched = true;
  return state;
}

function dispatchCommand(ctx: BuildContext, node: StageNode, state: StageState, cmd: Command, fileLint: Linter): void {
  const lint = fileLint.forComments(cmd.inst.comments);
  const scope: Scope = { ctx, node, state, cmd, loc: cmd.loc, lint, expand: new Expander(state, lint, cmd.loc, ctx.escape) };
  dispatchInstruction(scope, cmd.inst);
}
