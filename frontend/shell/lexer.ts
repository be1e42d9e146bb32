// The word expander proper: one left-to-right pass over a word that removes
// quotes and escapes, expands `$VAR` / `${VAR...}`, and at the same time
// collects the ProcessWords-style word split. Behaviour follows BuildKit's
// shell.Lex (held to its envVarTest/wordsTest vectors); see index.ts for the
// public API and the deliberate differences.

import { ExpansionError } from '../errors.js';
import type { EnvLookup } from './env.js';
import { removePrefix, removeSuffix, replaceMatches } from './glob.js';
import { WordCollector } from './words.js';
import { isDigit, isNameChar } from './name-chars.js';

export interface LexOptions {
  escape: string;
  skipUnsetEnv: boolean;
  rawQuotes: boolean;
  rawEscapes: boolean;
  skipProcessQuotes: boolean;
}

export interface LexResult {
  result: string;
  words: string[];
  used: Set<string>;
  unset: Set<string>;
}

/** A syntax or `${X:?}` failure deep in the lexer; `lex` rethrows it as an ExpansionError naming the whole word. */
class LexProblem extends Error {}

const MISSING_BRACE = "syntax error: missing '}'";
// `${a:-${a:-...}}` recurses once per level; past this depth the word is refused instead of overflowing the stack.
export const MAX_EXPANSION_NESTING = 500;
const BAD_SUBSTITUTION = 'syntax error: bad substitution';
// POSIX special parameters ($@, $?, ...): names of one character that are never set in a Dockerfile.
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!']);

export function lex(word: string, env: EnvLookup, options: LexOptions): LexResult {
  const lexer = new Lexer(word, env, options);
  try {
    const { text, words } = lexer.processUntil(undefined, options.rawEscapes);
    return { result: text, words, used: lexer.used, unset: lexer.unset };
  } catch (e) {
    if (e instanceof LexProblem) throw new ExpansionError(e.message, word);
    throw e;
  }
}

class Lexer {
  readonly used = new Set<string>();
  readonly unset = new Set<string>();
  private readonly chars: string[];
  private pos = 0;
  private depth = 0;
  // Whether escape characters stay in the output. On for the whole word when
  // asked; also on inside glob patterns, where the escape must survive so the
  // pattern matcher can tell `\*` (a star) from `*` (a wildcard).
  private rawEscapes: boolean;

  constructor(
    word: string,
    private readonly env: EnvLookup,
    private readonly opts: LexOptions,
  ) {
    this.chars = Array.from(word); // code points, so `안녕` or emoji are single characters
    this.rawEscapes = opts.rawEscapes;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    const ch = this.chars[this.pos];
    if (ch !== undefined) this.pos++;
    return ch;
  }

  /** Process up to the unquoted, unescaped `stop` (consumed), or to the end of the word when `stop` is undefined. */
  processUntil(stop: string | undefined, rawEscapes: boolean): { text: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    if (++this.depth > MAX_EXPANSION_NESTING) throw new LexProblem(`variable substitutions nested more than ${MAX_EXPANSION_NESTING} deep`);
    try {
      let text = '';
      const words = new WordCollector();
      for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
        if (ch === stop) {
          this.pos++;
          return { text, words: words.finish() };
        }
        if (ch === '$') {
          const value = this.dollar();
          text += value;
          words.addSplittable(value); // unquoted expansion results split on whitespace
        } else if (ch === '<') {
          const value = this.possibleHeredoc();
          text += value;
          words.addRaw(value);
        } else if ((ch === "'" || ch === '"') && !this.opts.skipProcessQuotes) {
          const value = ch === "'" ? this.singleQuoted() : this.doubleQuoted();
          text += value;
          words.addRaw(value);
        } else if (ch === this.opts.escape) {
          this.pos++;
          if (this.rawEscapes) {
            text += ch;
            words.addRaw(ch);
          }
          const escaped = this.next();
          if (escaped === undefined) break; // a trailing escape is dropped (it was a line continuation)
          text += escaped;
          words.addRaw(escaped);
        } else {
          this.pos++;
          text += ch;
          words.addChar(ch);
        }
      }
      if (stop !== undefined) throw new LexProblem(`unexpected end of statement while looking for matching ${stop}`);
      return { text, words: words.finish() };
    } finally {
      this.depth--;
      this.rawEscapes = saved;
    }
  }

  /** Everything up to the next `'` is literal; there is no escape inside single quotes. */
  private singleQuoted(): string {
    const quote = this.next()!;
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new LexProblem('unexpected end of statement while looking for matching single-quote');
      if (ch === quote) return this.opts.rawQuotes ? quote + out + quote : out;
      out += ch;
    }
  }

  /** `$` expands inside double quotes; the escape only protects `"`, `$` and itself, elsewhere it is a plain character. */
  private doubleQuoted(): string {
    const quote = this.next()!;
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new LexProblem('unexpected end of statement while looking for matching double-quote');
      if (ch === quote) {
        this.pos++;
        return this.opts.rawQuotes ? quote + out + quote : out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.pos++;
      const after = this.peek();
      if (ch === this.opts.escape && (after === '"' || after === '$' || after === this.opts.escape)) {
        this.pos++;
        out += this.rawEscapes ? ch + after : after;
      } else if (ch !== this.opts.escape || after !== undefined) {
        out += ch;
      }
    }
  }

  private dollar(): string {
    this.pos++; // the `$`
    if (this.peek() !== '{') {
      const name = this.readName();
      if (name === '') return '$'; // `$.` or a trailing `$` is just a dollar sign
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `$${name}`;
      return value ?? '';
    }
    this.pos++; // the `{`
    const first = this.peek();
    if (first === undefined) throw new LexProblem(MISSING_BRACE);
    if (first === '{' || first === '}' || first === ':') throw new LexProblem(BAD_SUBSTITUTION);
    const name = this.readName();
    if (name === '') throw new LexProblem(BAD_SUBSTITUTION);

    const op = this.next();
    switch (op) {
      case undefined:
        throw new LexProblem(MISSING_BRACE);
      case '}': {
        const value = this.lookup(name);
        if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
        return value ?? '';
      }
      case '-':
      case '+':
      case '?':
        return this.defaultingModifier(name, op, false);
      case ':': {
        const second = this.next();
        if (second === undefined) throw new LexProblem(MISSING_BRACE);
        if (second === '-' || second === '+' || second === '?') return this.defaultingModifier(name, second, true);
        throw new LexProblem(`unsupported modifier (:${second}) in substitution`);
      }
      case '#':
      case '%':
        return this.trimModifier(name, op);
      case '/':
        return this.replaceModifier(name);
      default:
        throw new LexProblem(`unsupported modifier (${op}) in substitution`);
    }
  }

  /** `${X-w}` `${X+w}` `${X?w}`, and with `:` (`nullIsUnset`) an empty value counts as unset. */
  private defaultingModifier(name: string, op: '-' | '+' | '?', nullIsUnset: boolean): string {
    // Like BuildKit, the word is expanded even when its value ends up unused
    // (so its variables count as referenced and its errors are raised).
    const word = this.modifierWord(false);
    const value = this.lookup(name);
    if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}${nullIsUnset ? ':' : ''}${op}${word}}`;
    const missing = value === undefined || (nullIsUnset && value === '');
    if (op === '-') return missing ? word : value!;
    if (op === '+') return missing ? '' : word;
    if (!missing) return value!;
    const reason = word !== '' ? word : value === undefined ? 'is not allowed to be unset' : 'is not allowed to be empty';
    throw new LexProblem(`${name}: ${reason}`);
  }

  /** `${X#p}` `${X##p}` `${X%p}` `${X%%p}`: remove the shortest/longest matching prefix/suffix. */
  private trimModifier(name: string, op: '#' | '%'): string {
    const longest = this.peek() === op;
    if (longest) this.pos++;
    const pattern = this.modifierWord(true);
    const value = this.lookup(name);
    if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}${longest ? op + op : op}${pattern}}`;
    const trim = op === '#' ? removePrefix : removeSuffix;
    return trim(value ?? '', pattern, longest, this.opts.escape);
  }

  /** `${X/p/r}` replaces the first match, `${X//p/r}` every match. */
  private replaceModifier(name: string): string {
    const all = this.peek() === '/';
    if (all) this.pos++;
    let pattern: string;
    try {
      pattern = this.processUntil('/', true).text;
    } catch (e) {
      if (e instanceof LexProblem && this.peek() === undefined) throw new LexProblem("syntax error: missing '/' in ${}");
      throw e;
    }
    const replacement = this.modifierWord(true);
    const value = this.lookup(name);
    if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}${all ? '//' : '/'}${pattern}/${replacement}}`;
    return replaceMatches(value ?? '', pattern, replacement, all, this.opts.escape);
  }

  /** The text of a modifier up to its closing `}`. */
  private modifierWord(rawEscapes: boolean): string {
    try {
      return this.processUntil('}', rawEscapes).text;
    } catch (e) {
      // Running out of input inside `${...}` is best reported as the missing brace.
      if (e instanceof LexProblem && this.peek() === undefined) throw new LexProblem(MISSING_BRACE);
      throw e;
    }
  }

  /** A variable name: letters/digits/underscore, or all digits (positional), or one special parameter character. */
  private readName(): string {
    const first = this.peek();
    if (first === undefined) return '';
    if (isDigit(first)) return this.readWhile(isDigit);
    if (SPECIAL_PARAMS.has(first)) {
      this.pos++;
      return first;
    }
    return this.readWhile(isNameChar);
  }

  private readWhile(test: (ch: string) => boolean): string {
    let out = '';
    for (let ch = this.peek(); ch !== undefined && test(ch); ch = this.peek()) {
      out += ch;
      this.pos++;
    }
    return out;
  }

  /**
   * `<<` (a heredoc marker) keeps the blanks that follow it in the same word,
   * so the splitter reports `<< EOF` as one word the heredoc parser can see.
   */
  private possibleHeredoc(): string {
    this.pos++;
    if (this.peek() !== '<') return '<';
    this.pos++;
    let out = '<<';
    for (let ch = this.peek(); ch === ' ' || ch === '\t' || ch === '\r'; ch = this.peek()) {
      out += ch;
      this.pos++;
    }
    return out;
  }

  private lookup(name: string): string | undefined {
    const value = this.env(name);
    (value === undefined ? this.unset : this.used).add(name);
    return value;
  }
}
