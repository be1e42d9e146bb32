// ONBUILD triggers a stage inherits: from its base image's config
// (`OnBuild` strings, parsed here) or from the ONBUILD instructions of its
// base stage. They run first in the child stage, as BuildKit does, and
// errors in them point at the child's FROM line.
import { DockerfileError } from '../errors.js';
import { convertInstruction } from '../instructions/index.js';
import { parseAst } from '../parser/index.js';
import { errorAt, toSourceLocation } from './location.js';
import type { Command, StageNode } from './stages.js';

function parseTrigger(trigger: string, node: StageNode): Command {
  try {
    const ast = parseAst(trigger);
    if (ast.instructions.length !== 1) throw errorAt(node.loc, 'BAD_ONBUILD', 'onbuild trigger should be a single expression');
    return { inst: convertInstruction(ast.instructions[0]!), loc: node.loc, onbuild: true };
  } catch (e) {
    if (e instanceof DockerfileError) {
      // The trigger's own text has no place in this Dockerfile: show the FROM that ran it.
      e.location = toSourceLocation(node.loc);
      if (!e.message.startsWith('ONBUILD')) e.message = `ONBUILD trigger ${JSON.stringify(trigger)} of ${node.baseName}: ${e.message}`;
    }
    throw e;
  }
}

/** The trigger commands `node` must run before its own instructions. */
export function inheritedTriggers(node: StageNode): Command[] {
  if (node.base.kind === 'image') {
    return (node.baseImage?.config.OnBuild ?? []).map((t) => parseTrigger(t, node));
  }
  if (node.base.kind === 'stage') {
    return node.base.node.stage.instructions.flatMap((inst) =>
      inst.kind === 'ONBUILD' ? [{ inst: inst.trigger, loc: node.loc, onbuild: true }] : [],
    );
  }
  return [];
}
