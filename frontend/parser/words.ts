/**
 * Low-level word splitting used by the per-instruction argument parsers,
 * reproducing BuildKit's rules (frontend/dockerfile/parser): which characters
 * count as white space, how flags are cut off the front of the arguments, and
 * how ENV/LABEL/ARG words keep their quotes.
 */

/** Go's unicode.IsSpace. */
const GO_SPACE_CHARS = '\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
const GO_SPACE = new Set(GO_SPACE_CHARS);
const LEADING_GO_SPACE = new RegExp(`^[${GO_SPACE_CHARS}]+`);
const TRAILING_GO_SPACE = new RegExp(`[${GO_SPACE_CHARS}]+$`);
/** BuildKit's reWhitespace: note it has no \n and no Unicode spaces. */
const BUILDKIT_WHITESPACE = /[\t\v\f\r ]+/;

export function isGoSpace(ch: string): boolean {
  return GO_SPACE.has(ch);
}

export function trimLeftGoSpace(s: string): string {
  return s.replace(LEADING_GO_SPACE, '');
}

export function trimGoSpace(s: string): string {
  return s.replace(LEADING_GO_SPACE, '').replace(TRAILING_GO_SPACE, '');
}

/** Splits on runs of [\t\v\f\r ], at most `limit` parts (the last keeps the rest). */
export function splitWhitespace(s: string, limit = Infinity): string[] {
  const parts: string[] = [];
  let rest = s;
  while (parts.length + 1 < limit) {
    const m = BUILDKIT_WHITESPACE.exec(rest);
    if (!m) break;
    parts.push(rest.slice(0, m.index));
    rest = rest.slice(m.index + m[0].length);
  }
  parts.push(rest);
  return parts;
}

/**
 * Cuts the leading `--flag` words off an instruction's arguments. Quotes are
 * removed and the escape character escapes the next character (BuildKit's
 * extractBuilderFlags). A bare `--` ends the flags and is dropped.
 */
export function extractFlags(line: string, escape: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let word = '';
  let blankOk = false;
  let quote = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  for (let pos = 0; pos <= line.length; pos++) {
    const atEnd = pos === line.length;
    const ch = atEnd ? '' : line[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) continue;
      if (ch !== '-' || line[pos + 1] !== '-') return { flags, rest: line.slice(pos) };
      phase = 'word';
    }
    if (atEnd) {
      if (word !== '--' && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        if (word === '--') return { flags, rest: line.slice(pos) };
        if (blankOk || word.length > 0) flags.push(word);
        word = '';
        blankOk = false;
        phase = 'spaces';
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) continue; // an escape at the very end is dropped
        pos++;
        word += line[pos];
        continue;
      }
      word += ch;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escape) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += line[pos];
      continue;
    }
    word += ch;
  }
  return { flags, rest: '' };
}

/**
 * Splits ENV/LABEL/ARG arguments into words, keeping quotes and escape
 * characters in the words (they are removed later, at expansion time).
 */
export function splitKeepingQuotes(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest); // code points, like Go's rune loop
  let word = '';
  let blankOk = false;
  let quote = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = atEnd ? '' : chars[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOk || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        phase = 'spaces';
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        // Unquoted escape: keep it and the escaped character, even a quote.
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) phase = 'word';
    // The escape character is literal inside single quotes.
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      pos++;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}
