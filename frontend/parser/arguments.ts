/**
 * Per-instruction argument splitting, as BuildKit's dispatch table does it
 * (frontend/dockerfile/parser/line_parsers.go): which instructions accept
 * JSON (exec) form, which split on white space, which keep one raw string,
 * ENV/LABEL pairs, HEALTHCHECK's type word and ONBUILD's nested instruction.
 * Nothing is validated here beyond what BuildKit's parser itself rejects.
 */
import type { KeyValueArg } from './types.js';
import { ParseProblem } from './problem.js';
import { extractFlags, splitKeepingQuotes, splitWhitespace, trimGoSpace, trimLeftGoSpace, isGoSpace } from './words.js';

/** An instruction line split into its parts, before line numbers are attached. */
export interface LineParts {
  readonly keyword: string;
  readonly flags: string[];
  readonly args: string[];
  readonly pairs?: KeyValueArg[];
  readonly json: boolean;
  readonly child?: LineParts;
}

type ArgParts = Pick<LineParts, 'args' | 'pairs' | 'json' | 'child'>;
type ArgParser = (rest: string, escape: string) => ArgParts;

const plain = (args: string[]): ArgParts => ({ args, json: false });

type JsonResult = { ok: true; values: string[] } | { ok: false };

function containsNonFiniteNumber(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (Array.isArray(value)) return value.some(containsNonFiniteNumber);
  if (value && typeof value === 'object') return Object.values(value).some(containsNonFiniteNumber);
  return false;
}

/** A JSON array of strings; anything that is not valid JSON is "not JSON" (shell form). */
function parseJsonArray(rest: string): JsonResult {
  const text = trimLeftGoSpace(rest);
  if (!text.startsWith('[')) return { ok: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  // Go's decoder fails on numbers it cannot represent (1e999) where JS yields Infinity.
  if (!Array.isArray(parsed) || containsNonFiniteNumber(parsed)) return { ok: false };
  if (!parsed.every((v): v is string => typeof v === 'string')) {
    // Valid JSON that is not a string array is an error, not shell form.
    throw new ParseProblem('INVALID_JSON', 'when using JSON array syntax, arrays must be comprised of strings only');
  }
  return { ok: true, values: parsed };
}

function whitespaceList(rest: string): ArgParts {
  return plain(rest === '' ? [] : splitWhitespace(rest));
}

function maybeJson(rest: string): ArgParts {
  if (rest === '') return plain([]);
  const json = parseJsonArray(rest);
  return json.ok ? { args: json.values, json: true } : plain([rest]);
}

function maybeJsonToList(rest: string): ArgParts {
  const json = parseJsonArray(rest);
  return json.ok ? { args: json.values, json: true } : whitespaceList(rest);
}

function rawString(rest: string): ArgParts {
  return plain(rest === '' ? [] : [rest]);
}

function nameOrNameValue(rest: string, escape: string): ArgParts {
  return plain(splitKeepingQuotes(rest, escape));
}

/** ENV/LABEL: `k=v k2=v2` or the legacy `k v with spaces`. Space or `=` first decides. */
function keyValuePairs(instruction: string) {
  return (rest: string, escape: string): ArgParts => {
    const words = splitKeepingQuotes(rest, escape);
    if (words.length === 0) return { args: [], pairs: [], json: false };
    if (!words[0]!.includes('=')) {
      const parts = splitWhitespace(rest, 2);
      if (parts.length < 2) throw new ParseProblem('MISSING_ARGUMENT', `${instruction} must have two arguments`);
      return { args: [], pairs: [{ key: parts[0]!, value: parts[1]!, hasEquals: false }], json: false };
    }
    const pairs: KeyValueArg[] = words.map((word) => {
      const eq = word.indexOf('=');
      if (eq < 0) {
        throw new ParseProblem('BAD_SYNTAX', `Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
      }
      return { key: word.slice(0, eq), value: word.slice(eq + 1), hasEquals: true };
    });
    return { args: [], pairs, json: false };
  };
}

/** HEALTHCHECK: a type word (CMD/NONE/anything), then CMD-like arguments. */
function healthcheck(rest: string): ArgParts {
  let sep = 0;
  while (sep < rest.length && !isGoSpace(rest[sep]!)) sep++;
  if (sep === 0) return plain([]);
  let next = sep;
  while (next < rest.length && isGoSpace(rest[next]!)) next++;
  const command = maybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...command.args], json: command.json };
}

function onbuild(rest: string, escape: string): ArgParts {
  if (rest === '') return plain([]);
  return { args: [], json: false, child: splitInstructionLine(rest, escape) };
}

const DISPATCH: Record<string, ArgParser> = {
  add: maybeJsonToList,
  arg: nameOrNameValue,
  cmd: maybeJson,
  copy: maybeJsonToList,
  entrypoint: maybeJson,
  env: keyValuePairs('ENV'),
  expose: whitespaceList,
  from: whitespaceList,
  healthcheck,
  label: keyValuePairs('LABEL'),
  maintainer: rawString,
  onbuild,
  run: maybeJson,
  shell: maybeJson,
  stopsignal: rawString,
  user: rawString,
  volume: maybeJsonToList,
  workdir: rawString,
};

/** The instruction names the parser knows (lower case). */
export const KNOWN_INSTRUCTIONS: readonly string[] = Object.keys(DISPATCH);

/**
 * Splits one logical line into keyword, flags and arguments. Unknown
 * keywords are kept with no arguments (BuildKit's parser ignores them; the
 * typed layer rejects them).
 */
export function splitInstructionLine(line: string, escape: string): LineParts {
  const [keyword = '', afterKeyword] = splitWhitespace(trimGoSpace(line), 2);
  let flags: string[] = [];
  let rest = '';
  if (afterKeyword !== undefined) {
    const extracted = extractFlags(afterKeyword, escape);
    flags = extracted.flags;
    rest = trimGoSpace(extracted.rest);
  }
  const parse = DISPATCH[keyword.toLowerCase()];
  const parts = parse ? parse(rest, escape) : plain([]);
  return { keyword, flags, ...parts };
}
