/**
 * Instructions that carry a command line: RUN, CMD, ENTRYPOINT, SHELL,
 * HEALTHCHECK.
 */
import { heredocFile, checkValue, requireAtLeastOne } from './common.js';
import type { InstructionContext } from './context.js';
import { DurationError, parseGoDuration } from './duration.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import { MountError, parseMount } from './mount.js';
import type {
  CmdInstruction,
  CommandLine,
  EntrypointInstruction,
  HealthcheckInstruction,
  HealthcheckOptions,
  NetworkMode,
  RunInstruction,
  RunMount,
  SecurityMode,
  ShellInstruction,
} from './types.js';
import { parseInt32 } from './values.js';

/** Exec form keeps the JSON array; shell form is the single raw command string. */
function commandLine(ctx: InstructionContext, args: readonly string[], withHeredocs: boolean): CommandLine {
  const node = ctx.node;
  if (node.json) return { form: 'exec', args: [...args] };
  if (args.length === 0) ctx.fail('MISSING_ARGUMENT', `${ctx.name} requires at least one argument`);
  return { form: 'shell', command: args.join(' '), heredocs: withHeredocs ? node.heredocs.map(heredocFile) : [] };
}

const NETWORK_MODES: readonly NetworkMode[] = ['default', 'none', 'host'];
const SECURITY_MODES: readonly SecurityMode[] = ['sandbox', 'insecure'];

export function convertRun(ctx: InstructionContext): RunInstruction {
  const flags = parseFlags(ctx, { mount: 'strings', network: 'string', security: 'string' });
  const network = flags.string('network') ?? 'default';
  if (!NETWORK_MODES.includes(network as NetworkMode)) {
    ctx.fail('BAD_FLAG_VALUE', `invalid network mode ${JSON.stringify(network)} (expected default, none or host)`, '--network');
  }
  const security = flags.string('security') ?? 'sandbox';
  if (!SECURITY_MODES.includes(security as SecurityMode)) {
    ctx.fail('BAD_FLAG_VALUE', `security ${JSON.stringify(security)} is not valid (expected sandbox or insecure)`, '--security');
  }
  const mounts = flags.strings('mount').map((raw): RunMount => {
    try {
      return parseMount(raw);
    } catch (e) {
      if (e instanceof MountError) ctx.fail(e.code, e.message, '--mount');
      throw e;
    }
  });
  return {
    kind: 'RUN',
    ...ctx.common(),
    command: commandLine(ctx, ctx.node.args, true),
    mounts,
    network: network as NetworkMode,
    security: security as SecurityMode,
  };
}

export function convertCmd(ctx: InstructionContext): CmdInstruction {
  parseFlags(ctx, {});
  return { kind: 'CMD', ...ctx.common(), command: commandLine(ctx, ctx.node.args, false) };
}

export function convertEntrypoint(ctx: InstructionContext): EntrypointInstruction {
  parseFlags(ctx, {});
  return { kind: 'ENTRYPOINT', ...ctx.common(), command: commandLine(ctx, ctx.node.args, false) };
}

export function convertShell(ctx: InstructionContext): ShellInstruction {
  parseFlags(ctx, {});
  requireAtLeastOne(ctx, ctx.node.args.length);
  if (!ctx.node.json) {
    ctx.fail('BAD_ARGUMENT', `SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/sh", "-c"]`);
  }
  return { kind: 'SHELL', ...ctx.common(), shell: [...ctx.node.args] };
}

const MIN_INTERVAL_NANOS = 1_000_000; // BuildKit rejects non-zero durations under 1ms

function durationFlag(ctx: InstructionContext, flags: ParsedFlags, name: string): number | undefined {
  const value = flags.string(name);
  if (value === undefined || value === '') return undefined;
  let nanos: number;
  try {
    nanos = parseGoDuration(value);
  } catch (e) {
    if (e instanceof DurationError) ctx.fail('BAD_FLAG_VALUE', `HEALTHCHECK --${name}: ${e.message}`, `--${name}`);
    throw e;
  }
  if (nanos === 0) return 0;
  if (nanos < MIN_INTERVAL_NANOS) ctx.fail('BAD_FLAG_VALUE', `Interval "${name}" cannot be less than 1ms`, `--${name}`);
  return nanos;
}

export function convertHealthcheck(ctx: InstructionContext): HealthcheckInstruction {
  const args = ctx.node.args;
  requireAtLeastOne(ctx, args.length);
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (type === 'NONE') {
    // BuildKit silently ignores flags on HEALTHCHECK NONE; they cannot mean anything, so reject them.
    const flag = ctx.node.flags[0];
    if (flag !== undefined) ctx.fail('UNKNOWN_FLAG', `HEALTHCHECK NONE takes no flags (got ${flag})`, flag);
    if (rest.length !== 0) ctx.fail('BAD_ARGUMENT', 'HEALTHCHECK NONE takes no arguments');
    return { kind: 'HEALTHCHECK', ...ctx.common(), test: ['NONE'], options: {} };
  }
  const flags = parseFlags(ctx, {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  });
  if (type !== 'CMD') ctx.fail('BAD_ARGUMENT', `Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, args[0]);
  if (rest.length === 0) ctx.fail('MISSING_ARGUMENT', 'Missing command after HEALTHCHECK CMD');
  const test = ctx.node.json ? ['CMD', ...rest] : ['CMD-SHELL', rest.join(' ')];

  const options: { -readonly [K in keyof HealthcheckOptions]: HealthcheckOptions[K] } = {};
  const interval = durationFlag(ctx, flags, 'interval');
  if (interval !== undefined) options.interval = interval;
  const timeout = durationFlag(ctx, flags, 'timeout');
  if (timeout !== undefined) options.timeout = timeout;
  const startPeriod = durationFlag(ctx, flags, 'start-period');
  if (startPeriod !== undefined) options.startPeriod = startPeriod;
  const startInterval = durationFlag(ctx, flags, 'start-interval');
  if (startInterval !== undefined) options.startInterval = startInterval;
  const retries = flags.string('retries');
  if (retries !== undefined && retries !== '') {
    const n = checkValue(ctx, 'BAD_FLAG_VALUE', '--retries', '--retries', () => parseInt32(retries));
    if (n < 0) ctx.fail('BAD_FLAG_VALUE', `--retries cannot be negative (${n})`, '--retries');
    options.retries = n;
  }
  return { kind: 'HEALTHCHECK', ...ctx.common(), test, options };
}
