// Collects the words of ProcessWords-style splitting as the lexer emits
// text. Text from unquoted expansions and plain characters is split on
// whitespace; quoted text and escaped characters are "raw" and never split.

// Split on Go's unicode.IsSpace (Unicode's White_Space), as the parser's
// set of those characters: a Unicode property regex of the same set cost
// ~0.5 ms to build in every build that expands a word.
import { isGoSpace } from '../parser/words.js';

export class WordCollector {
  private readonly words: string[] = [];
  private current = '';

  /** A character that splits words when it is whitespace. */
  addChar(ch: string): void {
    if (!isGoSpace(ch)) this.current += ch;
    else this.endWord();
  }

  /** Text that splits on whitespace (an unquoted `$VAR` expansion). */
  addSplittable(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  /** Text kept as is, whitespace included (quoted text, escaped characters). */
  addRaw(text: string): void {
    this.current += text;
  }

  /**
   * The words so far plus the one in progress. An empty word is never
   * produced, so `a "" b` gives `a`, `b` (BuildKit behaves the same).
   */
  finish(): string[] {
    this.endWord();
    return this.words;
  }

  private endWord(): void {
    if (this.current !== '') this.words.push(this.current);
    this.current = '';
  }
}
