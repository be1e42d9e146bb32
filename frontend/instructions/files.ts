/**
 * Instructions about files and paths: COPY, ADD, WORKDIR, VOLUME.
 */
import { isHeredocMarker } from '../parser/heredoc.js';
import { trimGoSpace } from '../parser/words.js';
import { checkValue, heredocFile, requireAtLeastOne, requireExactlyOne } from './common.js';
import type { InstructionContext } from './context.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import type { AddInstruction, CopyInstruction, CopySource, VolumeInstruction, WorkdirInstruction } from './types.js';
import { hasVariable, validateChecksum, validateChmod, validateUserGroup } from './values.js';

function sourcesAndDestination(ctx: InstructionContext): { sources: CopySource[]; destination: string } {
  const args = ctx.node.args;
  if (args.length < 2) {
    ctx.fail(
      'MISSING_ARGUMENT',
      `${ctx.name} requires at least two arguments, but only ${args.length === 0 ? 'none was' : 'one was'} provided. Destination could not be determined`,
    );
  }
  const destination = args[args.length - 1]!;
  // In JSON form the arguments are plain paths (BuildKit also looks for
  // heredoc markers there, but the parser never reads bodies for JSON form).
  if (!ctx.node.json && isHeredocMarker(destination)) {
    ctx.fail('BAD_HEREDOC', `${ctx.name} cannot accept a heredoc as a destination`, destination);
  }
  const bodies = new Map(ctx.node.heredocs.map((h) => [h.name, h]));
  const sources = args.slice(0, -1).map((arg): CopySource => {
    const marker = ctx.node.json ? undefined : isHeredocMarker(arg);
    if (!marker) return { kind: 'path', path: arg };
    const body = bodies.get(marker.name);
    const file = heredocFile({ ...marker, content: body?.content ?? '' });
    return { kind: 'heredoc', file };
  });
  return { sources, destination };
}

/** --chown/--chmod/--link/--exclude, shared by COPY and ADD. */
function commonCopyFlags(ctx: InstructionContext, flags: ParsedFlags) {
  const chown = flags.string('chown') || undefined;
  if (chown !== undefined && !hasVariable(chown)) {
    checkValue(ctx, 'BAD_FLAG_VALUE', '--chown', '--chown', () => validateUserGroup(chown));
  }
  const chmod = flags.string('chmod') || undefined;
  if (chmod !== undefined && !hasVariable(chmod)) {
    checkValue(ctx, 'BAD_FLAG_VALUE', '--chmod', '--chmod', () => validateChmod(chmod));
  }
  return {
    ...(chown !== undefined ? { chown } : {}),
    ...(chmod !== undefined ? { chmod } : {}),
    link: flags.bool('link') ?? false,
    excludes: flags.strings('exclude'),
    json: ctx.node.json,
  };
}

export function convertCopy(ctx: InstructionContext): CopyInstruction {
  const flags = parseFlags(ctx, { chown: 'string', chmod: 'string', from: 'string', link: 'bool', parents: 'bool', exclude: 'strings' });
  const { sources, destination } = sourcesAndDestination(ctx);
  const from = flags.string('from') || undefined;
  return {
    kind: 'COPY',
    ...ctx.common(),
    sources,
    destination,
    ...commonCopyFlags(ctx, flags),
    ...(from !== undefined ? { from } : {}),
    parents: flags.bool('parents') ?? false,
  };
}

export function convertAdd(ctx: InstructionContext): AddInstruction {
  const flags = parseFlags(ctx, {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    'keep-git-dir': 'bool',
    checksum: 'string',
    unpack: 'bool',
    exclude: 'strings',
  });
  const { sources, destination } = sourcesAndDestination(ctx);
  const checksum = flags.string('checksum') || undefined;
  if (checksum !== undefined && !hasVariable(checksum)) {
    checkValue(ctx, 'BAD_FLAG_VALUE', '--checksum', '--checksum', () => validateChecksum(checksum));
  }
  const keepGitDir = flags.bool('keep-git-dir');
  const unpack = flags.bool('unpack');
  return {
    kind: 'ADD',
    ...ctx.common(),
    sources,
    destination,
    ...commonCopyFlags(ctx, flags),
    ...(checksum !== undefined ? { checksum } : {}),
    ...(keepGitDir !== undefined ? { keepGitDir } : {}),
    ...(unpack !== undefined ? { unpack } : {}),
  };
}

export function convertWorkdir(ctx: InstructionContext): WorkdirInstruction {
  parseFlags(ctx, {});
  return { kind: 'WORKDIR', ...ctx.common(), path: requireExactlyOne(ctx, ctx.node.args) };
}

export function convertVolume(ctx: InstructionContext): VolumeInstruction {
  parseFlags(ctx, {});
  requireAtLeastOne(ctx, ctx.node.args.length);
  const paths = ctx.node.args.map((p) => trimGoSpace(p));
  if (paths.some((p) => p === '')) ctx.fail('BAD_ARGUMENT', 'VOLUME specified can not be an empty string');
  return { kind: 'VOLUME', ...ctx.common(), paths };
}
