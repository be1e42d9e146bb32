/**
 * One pattern of the moby `patternmatcher` family (.dockerignore, COPY
 * --exclude, COPY --parents include patterns), compiled to a RegExp.
 *
 * Semantics, as upstream:
 *  - `*` matches any run of characters except `/`; `?` one such character;
 *  - `**` matches any number of directories (including none); `**` at the end
 *    matches everything below;
 *  - `[...]` character classes are passed to the regexp engine as they are;
 *  - `\x` escapes x;
 *  - the pattern must match the whole path (relative, `/`-separated).
 */
import path from 'node:path';
import { InvalidPatternError } from './errors.js';

export interface CompiledPattern {
  /** The cleaned pattern text, without the leading `!`. */
  readonly text: string;
  /** True for `!` exception patterns (they re-include what earlier patterns excluded). */
  readonly exclusion: boolean;
  readonly regexp: RegExp;
}

/** Regexp meta characters that mean nothing special in a Go filepath.Match pattern. */
const LITERAL_META = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

/**
 * Clean a pattern as patternmatcher.New does: trim, strip `!`, Go's
 * filepath.Clean, drop a leading `/` (patterns are relative to the root).
 */
export function cleanPattern(raw: string): { text: string; exclusion: boolean } {
  let text = raw.trim();
  let exclusion = false;
  if (text.startsWith('!')) {
    exclusion = true;
    text = text.slice(1).trim();
    if (text === '') throw new InvalidPatternError(raw, 'illegal exclusion pattern');
  }
  text = goClean(text);
  if (text.length > 1 && text.startsWith('/')) text = text.slice(1);
  return { text, exclusion };
}

/** Go's path.Clean for `/`-separated paths ("" becomes "."). */
export function goClean(p: string): string {
  if (p === '') return '.';
  const cleaned = path.posix.normalize(p);
  // node keeps a trailing slash and turns "a/.." into "."; Go drops the slash.
  if (cleaned.length > 1 && cleaned.endsWith('/')) return cleaned.slice(0, -1);
  return cleaned;
}

export function compilePattern(raw: string): CompiledPattern {
  const { text, exclusion } = cleanPattern(raw);
  return { text, exclusion, regexp: toRegExp(text) };
}

function escapeRegExpChar(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

function toRegExp(pattern: string): RegExp {
  let re = '^';
  let inClass = false;
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (inClass && ch !== '\\' && ch !== ']') {
      // Inside [...] ranges and negation are the regexp's own syntax.
      re += ch === '[' ? '\\[' : ch;
      continue;
    }
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        // "**/" is treated as "**": the slash is eaten.
        if (chars[i + 1] === '/') i++;
        // "**" at the end matches everything; elsewhere any number of dirs.
        re += i + 1 >= chars.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) {
        re += '\\\\';
      } else {
        re += escapeRegExpChar(next);
        i++;
      }
    } else if (ch === '[' || ch === ']') {
      inClass = ch === '[';
      re += ch;
    } else if (LITERAL_META.has(ch)) {
      re += `\\${ch}`;
    } else {
      re += escapeRegExpChar(ch);
    }
  }
  re += '$';
  try {
    return new RegExp(re, 's');
  } catch (err) {
    throw new InvalidPatternError(pattern, (err as Error).message);
  }
}

/** Characters that make a pattern more than a literal path prefix. */
const PATTERN_CHARS = /[*[\]?^\\]/;

/** The pattern with a trailing `/**` or `/*` removed (fsutil's prefix test). */
export function withoutTrailingGlob(text: string): string {
  if (text.endsWith('/**')) return text.slice(0, -3);
  if (text.endsWith('/*')) return text.slice(0, -2);
  return text;
}

export function isLiteralPrefix(text: string): boolean {
  return !PATTERN_CHARS.test(withoutTrailingGlob(text));
}
