// FROM expansion: the base name and --platform, expanded with the global
// args only, and the lint rules BuildKit runs on them.
import { FromPlatformFlagConstDisallowed, InvalidDefaultArgInFrom, RedundantTargetPlatform, UndefinedArgInFrom, UntaggedOrLatestBaseImage } from '../checks/rules.js';
import type { Linter } from '../checks/linter.js';
import type { ArgInstruction, Stage } from '../instructions/index.js';
import { expandWord, expandWordWithInfo, type ExpansionInfo } from '../shell/index.js';
import { buildMetaArgs, type ArgInfo } from './args.js';
import { attachLocation, errorAt, toLocation } from './location.js';
import { parsePlatform } from './platform.js';
import { parseImageReference } from './reference.js';
import type { BaseSpec, StageNode } from './stages.js';
import { suggestName } from './suggest.js';
import type { Location, NamedContext, Platform } from './types.js';
import type { VarList } from './variables.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface FromContext {
  readonly globalArgs: VarList;
  readonly metaInfos: ReadonlyMap<string, ArgInfo>;
  readonly targetPlatform: Platform;
  readonly escape: '\\' | '`';
  readonly file: string;
  readonly namedContexts?: ReadonlyMap<string, NamedContext>;
}

function expandAt(word: string, ctx: FromContext, loc: Location): ExpansionInfo {
  try {
    return expandWordWithInfo(word, ctx.globalArgs.lookup, { escape: ctx.escape });
  } catch (e) {
    throw attachLocation(e, loc);
  }
}

/** BuildKit's reportUnusedFromArgs: names neither predefined nor declared before the first FROM. */
function reportUndeclared(info: ExpansionInfo, ctx: FromContext, lint: Linter, loc: Location): void {
  const known = new Set([...ctx.globalArgs.keys(), ...ctx.metaInfos.keys()]);
  for (const name of info.unset) {
    if (!IDENTIFIER.test(name) || known.has(name)) continue;
    lint.run(UndefinedArgInFrom, loc, name, suggestName(name, known, true));
  }
}

export interface ExpandedFrom extends BaseSpec {
  /** Global args the FROM line used (for --call outline). */
  readonly used: ReadonlySet<string>;
}

export function expandFrom(stage: Stage, ctx: FromContext, lint: Linter): ExpandedFrom {
  const loc = toLocation(stage.from.location, ctx.file);
  const image = expandAt(stage.from.image, ctx, loc);
  reportUndeclared(image, ctx, lint, loc);
  if (image.result === '') throw errorAt(loc, 'BLANK_BASE', `base name (${stage.from.image}) should not be blank`);
  const named = ctx.namedContexts?.get(image.result);
  const baseName = named?.type === 'local' ? image.result : namedBase(image.result, ctx);
  const used = new Set(image.used);
  let platform = ctx.targetPlatform;
  const raw = stage.from.platform;
  if (raw !== undefined) {
    const p = expandAt(raw, ctx, loc);
    reportUndeclared(p, ctx, lint, loc);
    if (p.used.size === 1 && p.unset.size === 0 && p.used.has('TARGETPLATFORM') && p.result === ctx.globalArgs.get('TARGETPLATFORM')) {
      lint.run(RedundantTargetPlatform, loc, raw);
    }
    if (p.result === '') throw errorAt(loc, 'BAD_PLATFORM', `empty platform value from expression ${raw}`);
    try {
      platform = parsePlatform(p.result, ctx.targetPlatform);
    } catch (e) {
      throw attachLocation(e, loc);
    }
    // A constant platform pins the stage to one architecture; fine when the stage name says so.
    const name = stage.name ?? '';
    if (p.used.size === 0 && p.unset.size === 0 && !name.includes(platform.os) && !name.includes(platform.architecture)) {
      lint.run(FromPlatformFlagConstDisallowed, loc, p.result);
    }
    for (const u of p.used) used.add(u);
  }
  return { baseName, platform, explicitPlatform: raw !== undefined, used, ...(named?.type === 'local' ? { contextBase: image.result } : {}) };
}

/** FROM NAME where --build-context NAME=<image or stage> was given: what it names instead. */
function namedBase(name: string, ctx: FromContext): string {
  const named = ctx.namedContexts?.get(name);
  if (named?.type === 'image') return named.ref;
  if (named?.type === 'stage') return named.name;
  return name;
}

/** BuildKit's validateBaseImagesWithDefaultArgs: would the FROM lines work with no --build-arg at all? */
export function checkDefaultArgsInFrom(stages: readonly Stage[], metaArgs: readonly ArgInstruction[], predefined: VarList, ctx: FromContext, lint: Linter): void {
  let args: VarList;
  try {
    args = buildMetaArgs(predefined, metaArgs, new Map(), ctx.escape, ctx.file).args;
  } catch {
    return; // the real build reports this error
  }
  for (const stage of stages) {
    let name: string;
    try {
      name = expandWord(stage.from.image, args.lookup, { escape: ctx.escape });
    } catch {
      return;
    }
    try {
      parseImageReference(name);
    } catch {
      lint.forComments(stage.from.comments).run(InvalidDefaultArgInFrom, toLocation(stage.from.location, ctx.file), stage.from.image);
    }
  }
}

/** tsbuild's rule: an image base should name a version (tag or digest), not float on `latest`. */
export function checkPinnedBase(node: StageNode, lint: Linter): void {
  if (node.base.kind !== 'image') return;
  const ref = node.base.ref;
  if (ref.digest !== undefined) return;
  if (ref.tag === undefined || ref.tag === 'latest') lint.run(UntaggedOrLatestBaseImage, node.loc, node.baseName, ref.tag === 'latest');
}
