// The character classes the frontend tests for every character of the
// words it parses, quotes and expands: tested by hand for ASCII, with the
// Unicode property regexes they replace made only for the first character
// past it (building one cost each build ~0.2-0.5 ms). Every code point
// (and every lone surrogate, which Array.from yields as a character of its
// own) gives what the regex gave.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isGoSpace } from '../frontend/parser/words.js';
import { goQuote, isGoPrintable } from '../frontend/parser/dump.js';
import { isDigit, isNameChar } from '../frontend/shell/name-chars.js';
import { PROJECT_ROOT } from './helpers/cli.js';

function* everyCharacter(): Generator<string> {
  for (let cp = 0; cp <= 0x10ffff; cp++) yield String.fromCodePoint(cp);
}

test('white space is Unicode White_Space (Go unicode.IsSpace)', (t) => {
  const re = /^\p{White_Space}$/u;
  const wrong = [...everyCharacter()].filter((ch) => isGoSpace(ch) !== re.test(ch));
  t.deepEqual(wrong, []);
});

test('name characters: Nd digits, and letters, digits and _', (t) => {
  const digit = /^\p{Nd}$/u;
  const name = /^[\p{L}\p{Nd}_]$/u;
  const wrong: number[] = [];
  for (const ch of everyCharacter()) if (isDigit(ch) !== digit.test(ch) || isNameChar(ch) !== name.test(ch)) wrong.push(ch.codePointAt(0)!);
  t.deepEqual(wrong, []);
});

// goQuote as it was, with the Unicode regex for every character.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\', '"': '\\"' };
function referenceQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (SHORT[ch]) out += SHORT[ch];
    else if (PRINTABLE.test(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0');
      else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
      else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
      else out += '\\U' + cp.toString(16).padStart(8, '0');
    }
  }
  return out + '"';
}

test("Go's strconv.Quote: every character quoted as before", (t) => {
  const wrong: number[] = [];
  for (const ch of everyCharacter()) {
    if (isGoPrintable(ch, ch.codePointAt(0)!) !== PRINTABLE.test(ch) || goQuote(ch) !== referenceQuote(ch)) wrong.push(ch.codePointAt(0)!);
  }
  t.deepEqual(wrong, []);
  for (const s of ['', '/home/app/bin/start.sh', 'echo "hi"\n\tthere\\', 'caf\u00e9 \u{1f600} \u200b \x7f']) t.is(goQuote(s), referenceQuote(s), s);
});

// The point of the hand-made tests: no Unicode property class is built
// where a module loads, only once a character past ASCII asks for one.
test('the Unicode property classes are made on first use', (t) => {
  for (const file of ['frontend/parser/dump.ts', 'frontend/shell/name-chars.ts', 'frontend/shell/words.ts', 'frontend/shell/lexer.ts']) {
    const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
    for (const line of text.split('\n')) if (/\\p\{/.test(line) && !line.trimStart().startsWith('//')) t.regex(line, /\?\?=/, `${file}: ${line.trim()}`);
  }
});
