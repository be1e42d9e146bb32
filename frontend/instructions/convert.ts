/**
 * AST node → typed instruction: dispatch on the keyword, ONBUILD's nested
 * trigger, and the "unknown instruction" error.
 */
import { KNOWN_INSTRUCTIONS } from '../parser/arguments.js';
import type { InstructionNode } from '../parser/types.js';
import { convertCmd, convertEntrypoint, convertHealthcheck, convertRun, convertShell } from './commands.js';
import { InstructionContext, suggest } from './context.js';
import { convertAdd, convertCopy, convertVolume, convertWorkdir } from './files.js';
import { parseFlags } from './flags.js';
import {
  convertArg,
  convertEnv,
  convertExpose,
  convertFrom,
  convertLabel,
  convertMaintainer,
  convertStopsignal,
  convertUser,
} from './metadata.js';
import type { Instruction, OnbuildInstruction } from './types.js';

type Converter = (ctx: InstructionContext) => Instruction;

const CONVERTERS: Record<string, Converter> = {
  add: convertAdd,
  arg: convertArg,
  cmd: convertCmd,
  copy: convertCopy,
  entrypoint: convertEntrypoint,
  env: convertEnv,
  expose: convertExpose,
  from: convertFrom,
  healthcheck: convertHealthcheck,
  label: convertLabel,
  maintainer: convertMaintainer,
  onbuild: convertOnbuild,
  run: convertRun,
  shell: convertShell,
  stopsignal: convertStopsignal,
  user: convertUser,
  volume: convertVolume,
  workdir: convertWorkdir,
};

const FORBIDDEN_TRIGGERS = new Set(['onbuild', 'from', 'maintainer']);

function convertOnbuild(ctx: InstructionContext): OnbuildInstruction {
  parseFlags(ctx, {});
  const child = ctx.node.child;
  if (!child) return ctx.fail('MISSING_ARGUMENT', 'ONBUILD requires at least one argument');
  if (FORBIDDEN_TRIGGERS.has(child.name)) {
    const message =
      child.name === 'onbuild'
        ? 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'
        : `${child.keyword.toUpperCase()} isn't allowed as an ONBUILD trigger`;
    ctx.fail('BAD_ONBUILD_TRIGGER', message, child.keyword);
  }
  const trigger = convertInstruction(child, ctx.file);
  // The image config stores the trigger as text; heredoc bodies travel with it.
  let expression = ctx.node.original.replace(/^\s*ONBUILD\s*/i, '');
  for (const h of ctx.node.heredocs) expression += `\n${h.content}${h.name}`;
  return { kind: 'ONBUILD', ...ctx.common(), expression, trigger };
}

/** Converts and validates one AST node; throws DockerfileError with the node's location. */
export function convertInstruction(node: InstructionNode, file?: string): Instruction {
  const ctx = new InstructionContext(node, file);
  const convert = Object.hasOwn(CONVERTERS, node.name) ? CONVERTERS[node.name] : undefined;
  if (!convert) {
    const hint = suggest(node.name, KNOWN_INSTRUCTIONS);
    return ctx.fail(
      'UNKNOWN_INSTRUCTION',
      `unknown instruction: ${node.keyword || '(empty)'}${hint ? ` (did you mean ${hint.toUpperCase()}?)` : ''}`,
      node.keyword || undefined,
    );
  }
  return convert(ctx);
}
