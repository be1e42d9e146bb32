// The characters of a variable name in a Dockerfile word ($NAME, ${NAME}):
// Unicode letters, decimal digits and '_', as BuildKit's shell lexer has
// them. Names are ASCII in practice, so ASCII is tested by hand and the
// Unicode classes are made for the first character past it: a Unicode
// property regex costs ~0.2-0.5 ms to build and more to run its first
// times, in every build that expands a word.

let unicodeDigit: RegExp | undefined;
let unicodeNameChar: RegExp | undefined;

/** One character (code point) of Unicode's Nd class. */
export function isDigit(ch: string): boolean {
  if (ch.charCodeAt(0) < 0x80) return ch >= '0' && ch <= '9';
  unicodeDigit ??= /^\p{Nd}$/u;
  return unicodeDigit.test(ch);
}

/** One character (code point) of a name: a Unicode letter or decimal digit, or '_'. */
export function isNameChar(ch: string): boolean {
  if (ch.charCodeAt(0) < 0x80) return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '_';
  unicodeNameChar ??= /^[\p{L}\p{Nd}_]$/u;
  return unicodeNameChar.test(ch);
}
