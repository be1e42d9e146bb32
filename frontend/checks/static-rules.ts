// Lint rules that need only the parsed Dockerfile (BuildKit runs them while
// parsing, for every stage, whatever the target): casing, stage names,
// MAINTAINER, empty continuation lines, definition comments.
import type { Dockerfile, Instruction, InstructionLocation } from '../instructions/index.js';
import type { Location } from '../graph/types.js';
import type { Linter } from './linter.js';
import {
  ConsistentInstructionCasing, DuplicateStageName, FromAsCasing, InvalidDefinitionDescription,
  MaintainerDeprecated, NoEmptyContinuation, ReservedStageName, StageNameCasing,
} from './rules.js';

const RESERVED_STAGE_NAMES = new Set(['context', 'scratch']);

function locationOf(loc: InstructionLocation, file: string): Location {
  return { file, line: loc.startLine, endLine: loc.endLine, sourceLine: loc.sourceLine };
}

/** FROM's positional words as written (`image`, `AS`, `Name`), read from the logical line after the flags. */
export function fromWords(original: string): string[] {
  const words = original.trim().split(/\s+/).slice(1);
  while (words.length > 0 && words[0]!.startsWith('--')) words.shift();
  return words;
}

const isSelfConsistent = (s: string) => s === s.toLowerCase() || s === s.toUpperCase();

function checkCasing(df: Dockerfile, lint: Linter, file: string): void {
  const keywords: Array<{ keyword: string; loc: Location }> = [];
  for (const stage of df.stages) {
    keywords.push({ keyword: stage.from.keyword, loc: locationOf(stage.from.location, file) });
    for (const inst of stage.instructions) keywords.push({ keyword: inst.keyword, loc: locationOf(inst.location, file) });
  }
  let lower = 0;
  let upper = 0;
  for (const { keyword } of keywords) {
    if (!isSelfConsistent(keyword)) continue;
    if (keyword === keyword.toLowerCase()) lower++;
    else upper++;
  }
  const majorityLower = lower > upper;
  for (const { keyword, loc } of keywords) {
    if (majorityLower && keyword !== keyword.toLowerCase()) lint.run(ConsistentInstructionCasing, loc, keyword, 'lowercase');
    else if (!majorityLower && keyword !== keyword.toUpperCase()) lint.run(ConsistentInstructionCasing, loc, keyword, 'uppercase');
  }
}

/** Experimental in BuildKit: a comment above FROM/ARG that does not start with the defined name. */
function checkDefinitionComment(lint: Linter, instruction: string, names: string[], comments: readonly string[], loc: Location): void {
  if (comments.length === 0 || names.length === 0) return;
  const first = comments[comments.length - 1]!.split(' ')[0]!;
  if (names.includes(first)) return;
  lint.run(InvalidDefinitionDescription, loc, instruction, names.length > 1 ? '<arg_key>' : names[0]!);
}

function checkInstruction(inst: Instruction, lint: Linter, file: string): void {
  const loc = locationOf(inst.location, file);
  const scoped = lint.forComments(inst.comments);
  if (inst.kind === 'MAINTAINER') scoped.run(MaintainerDeprecated, loc);
  if (inst.kind === 'ARG') checkDefinitionComment(scoped, 'ARG', inst.args.map((a) => a.key), inst.comments, loc);
}

function checkFrom(df: Dockerfile, lint: Linter, file: string): void {
  const seen = new Set<string>();
  for (const stage of df.stages) {
    const from = stage.from;
    const loc = locationOf(from.location, file);
    const scoped = lint.forComments(from.comments);
    const words = fromWords(from.original);
    if (words.length === 3) {
      const [, as, name] = words as [string, string, string];
      if (name !== name.toLowerCase()) scoped.run(StageNameCasing, loc, name);
      // Only when FROM itself is consistently cased (ConsistentInstructionCasing covers the rest).
      const kw = from.keyword;
      if (kw === kw.toLowerCase() && as !== as.toLowerCase()) scoped.run(FromAsCasing, loc, kw, as);
      else if (kw !== kw.toLowerCase() && kw === kw.toUpperCase() && as !== as.toUpperCase()) scoped.run(FromAsCasing, loc, kw, as);
    }
    if (stage.name !== undefined) {
      checkDefinitionComment(scoped, 'FROM', [stage.name], from.comments, loc);
      if (RESERVED_STAGE_NAMES.has(stage.name)) lint.run(ReservedStageName, loc, stage.name);
      if (seen.has(stage.name)) lint.run(DuplicateStageName, loc, stage.name);
      seen.add(stage.name);
    }
  }
}

function checkEmptyContinuations(df: Dockerfile, lint: Linter, file: string): void {
  const all = [...df.metaArgs, ...df.stages.flatMap((s) => [s.from, ...s.instructions])];
  for (const w of df.warnings) {
    if (!w.message.startsWith('Empty continuation line')) continue;
    const owner = all.find((i) => i.location.startLine <= w.line && w.line <= i.location.endLine);
    const loc = owner ? locationOf(owner.location, file) : { file, line: w.line, endLine: w.line, sourceLine: '' };
    lint.run(NoEmptyContinuation, loc);
  }
}

export function runStaticChecks(df: Dockerfile, lint: Linter, file: string): void {
  checkEmptyContinuations(df, lint, file);
  for (const inst of df.metaArgs) checkInstruction(inst, lint, file);
  checkFrom(df, lint, file);
  for (const stage of df.stages) for (const inst of stage.instructions) checkInstruction(inst, lint, file);
  checkCasing(df, lint, file);
}
