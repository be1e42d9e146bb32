/**
 * Heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) as BuildKit reads
 * them: the instruction line is split into raw shell words, and every word
 * that is entirely a heredoc marker opens a heredoc whose body follows the
 * instruction, in order.
 */
import { HeredocLexError, lexWords } from './heredoc-lexer.js';

const HEREDOC_RE = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

export interface HeredocMarker {
  readonly name: string;
  readonly fileDescriptor: number;
  readonly expand: boolean;
  readonly chomp: boolean;
}

export class HeredocSyntaxError extends Error {}

function countQuotes(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === "'" || ch === '"') n++;
  return n;
}

/**
 * Reads one word as a heredoc marker. Returns undefined when the word is not
 * a marker; throws HeredocSyntaxError for a marker with unbalanced quotes
 * (`<<'EOF`).
 */
export function parseHeredocMarker(word: string): HeredocMarker | undefined {
  const match = HEREDOC_RE.exec(word);
  if (!match) return undefined;
  const rest = match[3] ?? '';
  if (rest.length === 0) return undefined;
  let words: string[];
  let rawWords: string[];
  try {
    words = lexWords(rest, { rawQuotes: false, rawEscapes: false });
    if (words.length !== 1) return undefined;
    rawWords = lexWords(rest, { rawQuotes: true, rawEscapes: false });
  } catch (e) {
    if (e instanceof HeredocLexError) throw new HeredocSyntaxError(`invalid heredoc ${JSON.stringify(word)}: ${e.message}`);
    throw e;
  }
  const name = words[0]!;
  const rawName = rawWords[0] ?? '';
  const fd = Number.parseInt(match[1] || '0', 10);
  return {
    name,
    fileDescriptor: Number.isSafeInteger(fd) ? fd : 0,
    // When quote removal changed the number of quote characters, part of the
    // word was quoted, and a quoted terminator means "do not expand the body".
    expand: countQuotes(name) === countQuotes(rawName),
    chomp: match[2] === '-',
  };
}

/** Like parseHeredocMarker, but a malformed marker counts as "not a heredoc". */
export function isHeredocMarker(word: string): HeredocMarker | undefined {
  try {
    return parseHeredocMarker(word);
  } catch (e) {
    if (e instanceof HeredocSyntaxError) return undefined;
    throw e;
  }
}

/** All heredoc markers on an instruction line, in order. */
export function heredocMarkersOnLine(line: string): HeredocMarker[] {
  let words: string[];
  try {
    words = lexWords(line, { rawQuotes: true, rawEscapes: true });
  } catch (e) {
    // BuildKit ignores lexing errors here: a line it cannot split has no heredocs.
    if (e instanceof HeredocLexError) return [];
    throw e;
  }
  const markers: HeredocMarker[] = [];
  for (const word of words) {
    const marker = parseHeredocMarker(word);
    if (marker) markers.push(marker);
  }
  return markers;
}

/** Strips leading tabs from every line of a `<<-` heredoc body. */
export function chompHeredocContent(content: string): string {
  // Only \n starts a line here (JS's /m would also split on \r and U+2028).
  return content.replace(/(^|\n)\t+/g, '$1');
}
