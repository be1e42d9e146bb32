// Shell pattern matching for the ${V#p} ${V##p} ${V%p} ${V%%p} ${V/p/r}
// ${V//p/r} modifiers. Patterns are POSIX shell globs: `*` any string, `?`
// any one character, `[...]` a bracket expression (`[!...]`/`[^...]`
// negated, ranges, `[:alpha:]`-style classes); the escape character makes the
// next character literal. We translate a glob to a RegExp rather than write a
// matcher: the engine is fast and correct, we only have to get quoting right.
//
// Differences from BuildKit, on purpose: BuildKit treats `[` literally and
// rejects escapes of characters other than `*`, `?`, `\`, `}` and `/`; here
// brackets are globs (as in every shell) and any character may be escaped.

// Any single character, newlines included (in a shell `*` crosses them).
const ANY = '[\\s\\S]';
const REGEX_SYNTAX = new Set(Array.from('^$\\.*+?()[]{}|/'));
const CLASS_SYNTAX = new Set(Array.from('\\^-[]'));

const NAMED_CLASSES: Record<string, string> = {
  alpha: '\\p{L}',
  digit: '0-9',
  alnum: '\\p{L}\\p{Nd}',
  upper: '\\p{Lu}',
  lower: '\\p{Ll}',
  space: '\\s',
  blank: ' \\t',
  xdigit: '0-9A-Fa-f',
  punct: '\\p{P}\\p{S}',
};

const literal = (ch: string): string => (REGEX_SYNTAX.has(ch) ? `\\${ch}` : ch);
const classLiteral = (ch: string): string => (CLASS_SYNTAX.has(ch) ? `\\${ch}` : ch);

/** Translate a glob into RegExp source (no anchors; compile with the `u` flag). */
export function globToRegExpSource(pattern: string, escape: string): string {
  const chars = Array.from(pattern);
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === escape && i + 1 < chars.length) {
      out += literal(chars[++i]!);
    } else if (ch === '*') {
      out += `${ANY}*`;
    } else if (ch === '?') {
      out += ANY;
    } else if (ch === '[') {
      const bracket = parseBracket(chars, i + 1, escape);
      if (bracket) {
        out += bracket.source;
        i = bracket.closeIndex;
      } else {
        out += literal(ch); // no closing `]`: a plain character, as in sh
      }
    } else {
      out += literal(ch); // includes a trailing lone escape character
    }
  }
  return out;
}

/** Parse the bracket expression whose body starts at `start`; undefined when it is never closed. */
function parseBracket(
  chars: string[],
  start: number,
  escape: string,
): { source: string; closeIndex: number } | undefined {
  let i = start;
  let negate = false;
  if (chars[i] === '!' || chars[i] === '^') {
    negate = true;
    i++;
  }
  const bodyStart = i;
  const members: string[] = [];
  while (i < chars.length) {
    let ch = chars[i]!;
    // A `]` right after the opening is a member, not the end.
    if (ch === ']' && i > bodyStart) {
      return { source: `[${negate ? '^' : ''}${members.join('')}]`, closeIndex: i };
    }
    if (ch === '[' && chars[i + 1] === ':') {
      const end = findNamedClassEnd(chars, i + 2);
      const named = end === undefined ? undefined : NAMED_CLASSES[chars.slice(i + 2, end).join('')];
      if (named !== undefined && end !== undefined) {
        members.push(named);
        i = end + 2;
        continue;
      }
    }
    let width = 1;
    if (ch === escape && i + 1 < chars.length) {
      ch = chars[i + 1]!;
      width = 2;
    }
    const dash = i + width;
    if (chars[dash] === '-' && chars[dash + 1] !== undefined && chars[dash + 1] !== ']') {
      let hi = chars[dash + 1]!;
      let hiWidth = 1;
      if (hi === escape && chars[dash + 2] !== undefined) {
        hi = chars[dash + 2]!;
        hiWidth = 2;
      }
      // A reversed range matches nothing in sh; a RegExp would throw instead.
      if (ch.codePointAt(0)! <= hi.codePointAt(0)!) members.push(`${classLiteral(ch)}-${classLiteral(hi)}`);
      i = dash + 1 + hiWidth;
      continue;
    }
    members.push(classLiteral(ch));
    i += width;
  }
  return undefined;
}

function findNamedClassEnd(chars: string[], from: number): number | undefined {
  for (let i = from; i + 1 < chars.length; i++) {
    if (chars[i] === ':' && chars[i + 1] === ']') return i;
    if (!/[a-z]/.test(chars[i]!)) return undefined;
  }
  return undefined;
}

function wholeMatcher(pattern: string, escape: string): RegExp {
  return new RegExp(`^(?:${globToRegExpSource(pattern, escape)})$`, 'u');
}

/**
 * Candidate split points of `value`, on code point boundaries, from the
 * shortest to the longest prefix (or reversed).
 */
function splitPoints(length: number, longestFirst: boolean): number[] {
  const points = Array.from({ length: length + 1 }, (_, i) => i);
  return longestFirst ? points.reverse() : points;
}

/** `${V#p}` (shortest) / `${V##p}` (longest): drop the prefix matching the pattern, if any. */
export function removePrefix(value: string, pattern: string, longest: boolean, escape: string): string {
  const re = wholeMatcher(pattern, escape);
  const chars = Array.from(value);
  for (const i of splitPoints(chars.length, longest)) {
    if (re.test(chars.slice(0, i).join(''))) return chars.slice(i).join('');
  }
  return value;
}

/** `${V%p}` (shortest) / `${V%%p}` (longest): drop the suffix matching the pattern, if any. */
export function removeSuffix(value: string, pattern: string, longest: boolean, escape: string): string {
  const re = wholeMatcher(pattern, escape);
  const chars = Array.from(value);
  // The shortest suffix starts at the largest split point.
  for (const i of splitPoints(chars.length, !longest)) {
    if (re.test(chars.slice(i).join(''))) return chars.slice(0, i).join('');
  }
  return value;
}

/**
 * `${V/p/r}` / `${V//p/r}`: replace the first (or every) leftmost-longest
 * match. Greedy stars give the longest match at the leftmost position. The
 * replacement is inserted literally (no `$1` group references).
 */
export function replaceMatches(
  value: string,
  pattern: string,
  replacement: string,
  all: boolean,
  escape: string,
): string {
  const re = new RegExp(globToRegExpSource(pattern, escape), all ? 'gu' : 'u');
  return value.replace(re, () => replacement);
}
