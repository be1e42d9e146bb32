/**
 * A minimal shell-word lexer used only to *find* heredoc markers on an
 * instruction line and to read a heredoc terminator word. It mirrors the
 * BuildKit lexer in the configuration its parser uses for this job: backslash
 * escapes (whatever the `# escape=` directive says), an empty environment
 * where unset variables are left as written, and optionally raw quotes/escapes
 * (kept in the output). It is deliberately not the project's word expander:
 * that one expands variables, this one must not.
 */

import { isGoSpace as isSpace } from './words.js';

export class HeredocLexError extends Error {}

interface LexOptions {
  /** Keep quote characters in the output words. */
  readonly rawQuotes: boolean;
  /** Keep escape characters in the output words. */
  readonly rawEscapes: boolean;
}

const ESCAPE = '\\';
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);


class WordCollector {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else {
      this.addRaw(ch);
    }
  }

  addRaw(text: string): void {
    this.buf += text;
    this.inWord = true;
  }

  addSplitting(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
    }
    return this.words;
  }
}

class Lexer {
  private pos = 0;
  private readonly chars: string[];

  constructor(text: string, private readonly opts: LexOptions) {
    this.chars = Array.from(text);
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  /** Lexes up to `stop` (consumed) or to the end when `stop` is undefined. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): { text: string; words: string[] } {
    let text = '';
    const words = new WordCollector();
    while (this.peek() !== undefined) {
      const ch = this.peek()!;
      if (stop !== undefined && ch === stop) {
        this.next();
        return { text, words: words.finish() };
      }
      if (ch === '$') {
        const value = this.processDollar();
        text += value;
        words.addSplitting(value);
      } else if (ch === '<') {
        const value = this.processPossibleHeredoc();
        text += value;
        words.addRaw(value);
      } else if (ch === "'") {
        const value = this.processSingleQuote();
        text += value;
        words.addRaw(value);
      } else if (ch === '"') {
        const value = this.processDoubleQuote(rawEscapes);
        text += value;
        words.addRaw(value);
      } else {
        let c = this.next()!;
        if (c === ESCAPE) {
          if (rawEscapes) {
            words.addRaw(c);
            text += c;
          }
          const escaped = this.next();
          if (escaped === undefined) break;
          c = escaped;
          words.addRaw(c);
        } else {
          words.addChar(c);
        }
        text += c;
      }
    }
    if (stop !== undefined) throw new HeredocLexError(`unexpected end of statement while looking for matching ${stop}`);
    return { text, words: words.finish() };
  }

  private processSingleQuote(): string {
    let out = this.opts.rawQuotes ? this.next()! : (this.next(), '');
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new HeredocLexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return this.opts.rawQuotes ? out + ch : out;
      out += ch;
    }
  }

  private processDoubleQuote(rawEscapes: boolean): string {
    let out = this.opts.rawQuotes ? this.next()! : (this.next(), '');
    for (;;) {
      const peeked = this.peek();
      if (peeked === undefined) throw new HeredocLexError('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        this.next();
        return this.opts.rawQuotes ? out + '"' : out;
      }
      if (peeked === '$') {
        out += this.processDollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === ESCAPE) {
        if (rawEscapes) out += ch;
        const after = this.peek();
        if (after === undefined) continue;
        if (after === '"' || after === '$' || after === ESCAPE) ch = this.next()!;
      }
      out += ch;
    }
  }

  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let spaces = '';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') spaces += this.next();
    return '<<' + spaces;
  }

  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name.length === 0 && /^\p{Nd}$/u.test(ch)) {
        while (this.peek() !== undefined && /^\p{Nd}$/u.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name.length === 0 && SPECIAL_PARAMS.has(ch)) return this.next()!;
      if (!/^[\p{L}\p{Nd}_]$/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }

  /** With an empty environment every reference is unset, so it is returned as written. */
  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      return name === '' ? '$' : '$' + name;
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new HeredocLexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new HeredocLexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    let modifier = ch ?? '';
    switch (ch) {
      case '}':
        return '${' + name + '}';
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        const nullIsUnset = ch === ':';
        if (nullIsUnset) {
          ch = this.next();
          modifier += ch ?? '';
        }
        const raw = ch === '#' || ch === '%';
        if (nullIsUnset && raw) throw new HeredocLexError(`unsupported modifier (${modifier}) in substitution`);
        const word = this.stopOnOrMissing('}', raw, "syntax error: missing '}'");
        return '${' + name + modifier + word + '}';
      }
      case '/': {
        if (this.peek() === '/') this.next();
        const pattern = this.stopOnOrMissing('/', true, "syntax error: missing '/' in ${}");
        const replacement = this.stopOnOrMissing('}', true, "syntax error: missing '}'");
        return '${' + name + '/' + pattern + '/' + replacement + '}';
      }
      default:
        throw new HeredocLexError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  private stopOnOrMissing(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).text;
    } catch (e) {
      if (this.peek() === undefined) throw new HeredocLexError(missing);
      throw e;
    }
  }
}

/** Splits `text` into shell words; throws HeredocLexError on unbalanced quotes or bad `${...}`. */
export function lexWords(text: string, opts: LexOptions): string[] {
  return new Lexer(text, opts).processStopOn(undefined, opts.rawEscapes).words;
}
