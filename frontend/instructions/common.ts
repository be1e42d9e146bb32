/**
 * Small helpers shared by the per-instruction converters: argument-count
 * checks, value validation mapped to located errors, heredoc bodies.
 */
import { chompHeredocContent } from '../parser/heredoc.js';
import type { Heredoc } from '../parser/types.js';
import type { InstructionContext } from './context.js';
import type { HeredocFile } from './types.js';
import { ValueError } from './values.js';

export function requireExactlyOne(ctx: InstructionContext, args: readonly string[]): string {
  if (args.length !== 1) ctx.fail('MISSING_ARGUMENT', `${ctx.name} requires exactly one argument`);
  return args[0]!;
}

export function requireAtLeastOne(ctx: InstructionContext, count: number): void {
  if (count === 0) ctx.fail('MISSING_ARGUMENT', `${ctx.name} requires at least one argument`);
}

/** Runs a validator; a ValueError becomes a DockerfileError located at `near`. */
export function checkValue<T>(ctx: InstructionContext, code: string, near: string, what: string, validate: () => T): T {
  try {
    return validate();
  } catch (e) {
    if (e instanceof ValueError) ctx.fail(code, `${ctx.name} ${what}: ${e.message}`, near);
    throw e;
  }
}

export function heredocFile(h: Heredoc): HeredocFile {
  return {
    name: h.name,
    content: h.chomp ? chompHeredocContent(h.content) : h.content,
    expand: h.expand,
    chomp: h.chomp,
    fileDescriptor: h.fileDescriptor,
  };
}
