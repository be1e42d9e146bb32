/**
 * FROM and the instructions that only change image metadata or build
 * variables: ENV, LABEL, ARG, EXPOSE, USER, STOPSIGNAL, MAINTAINER.
 */
import { checkValue, requireAtLeastOne, requireExactlyOne } from './common.js';
import type { InstructionContext } from './context.js';
import { parseFlags } from './flags.js';
import type {
  ArgDefinition,
  ArgInstruction,
  EnvInstruction,
  ExposedPort,
  ExposeInstruction,
  FromInstruction,
  KeyValue,
  LabelInstruction,
  MaintainerInstruction,
  StopsignalInstruction,
  UserInstruction,
} from './types.js';
import { hasVariable, isValidStageName, parsePortSpec, validateSignal, validateUserGroup } from './values.js';

export function convertFrom(ctx: InstructionContext): FromInstruction {
  const flags = parseFlags(ctx, { platform: 'string' });
  const args = ctx.node.args;
  let stageName: string | undefined;
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    stageName = args[2]!.toLowerCase();
    if (!isValidStageName(stageName)) {
      ctx.fail('BAD_STAGE_NAME', `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`, args[2]);
    }
  } else if (args.length !== 1) {
    ctx.fail('MISSING_ARGUMENT', 'FROM requires either one or three arguments (FROM image [AS name])');
  }
  const platform = flags.string('platform') || undefined;
  return {
    kind: 'FROM',
    ...ctx.common(),
    image: args[0]!,
    ...(stageName !== undefined ? { stageName } : {}),
    ...(platform !== undefined ? { platform } : {}),
  };
}

function keyValues(ctx: InstructionContext): KeyValue[] {
  const pairs = ctx.node.pairs ?? [];
  requireAtLeastOne(ctx, pairs.length);
  if (pairs.some((p) => p.key === '')) ctx.fail('BAD_ARGUMENT', `${ctx.name} names can not be blank`);
  return pairs.map((p) => ({ key: p.key, value: p.value }));
}

export function convertEnv(ctx: InstructionContext): EnvInstruction {
  parseFlags(ctx, {});
  return { kind: 'ENV', ...ctx.common(), pairs: keyValues(ctx) };
}

export function convertLabel(ctx: InstructionContext): LabelInstruction {
  parseFlags(ctx, {});
  return { kind: 'LABEL', ...ctx.common(), pairs: keyValues(ctx) };
}

export function convertArg(ctx: InstructionContext): ArgInstruction {
  parseFlags(ctx, {});
  requireAtLeastOne(ctx, ctx.node.args.length);
  const args = ctx.node.args.map((word): ArgDefinition => {
    const eq = word.indexOf('=');
    if (eq < 0) return { key: word };
    if (eq === 0) ctx.fail('BAD_ARGUMENT', 'ARG names can not be blank', word);
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
  return { kind: 'ARG', ...ctx.common(), args };
}

export function convertExpose(ctx: InstructionContext): ExposeInstruction {
  parseFlags(ctx, {});
  requireAtLeastOne(ctx, ctx.node.args.length);
  const ports = ctx.node.args.map((raw): ExposedPort => {
    if (hasVariable(raw)) return { raw };
    return { raw, ...checkValue(ctx, 'BAD_ARGUMENT', raw, 'port', () => parsePortSpec(raw)) };
  });
  return { kind: 'EXPOSE', ...ctx.common(), ports };
}

export function convertUser(ctx: InstructionContext): UserInstruction {
  parseFlags(ctx, {});
  const user = requireExactlyOne(ctx, ctx.node.args);
  if (!hasVariable(user)) checkValue(ctx, 'BAD_ARGUMENT', user, 'user', () => validateUserGroup(user));
  return { kind: 'USER', ...ctx.common(), user };
}

export function convertStopsignal(ctx: InstructionContext): StopsignalInstruction {
  parseFlags(ctx, {});
  const signal = requireExactlyOne(ctx, ctx.node.args);
  if (!hasVariable(signal)) checkValue(ctx, 'BAD_ARGUMENT', signal, 'signal', () => validateSignal(signal));
  return { kind: 'STOPSIGNAL', ...ctx.common(), signal };
}

export function convertMaintainer(ctx: InstructionContext): MaintainerInstruction {
  parseFlags(ctx, {});
  return { kind: 'MAINTAINER', ...ctx.common(), maintainer: requireExactlyOne(ctx, ctx.node.args) };
}
