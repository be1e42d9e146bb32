// Public API of the Dockerfile word expander.
//
// Semantics are BuildKit's shell.Lex (ProcessWord / ProcessWords), held to
// the conformance vectors in ../shared/conformance/buildkit/shell/. Known,
// deliberate differences, all on inputs BuildKit rejects or gets wrong:
//  - glob patterns support `[...]` bracket expressions and any escaped
//    character (BuildKit: `[` literal, `\x` is an error);
//  - the escape inside a glob pattern is the configured escape character
//    (BuildKit always uses backslash there);
//  - `${X##p}` is "longest" only when written `##` (BuildKit also when the
//    expanded pattern happens to start with `#`);
//  - `${}`-style constructs with an empty name and a modifier (`${+x}`) are a
//    bad substitution instead of expanding an empty-named variable;
//  - with `rawEscapes`, an escape before an ordinary character inside double
//    quotes is kept once (BuildKit doubles it);
//  - ProcessWords splitting around a `${X:-...}` modifier does not lose the
//    text before it (recent BuildKit shares one buffer and does).

import type { EnvLookup } from './env.js';
import { lex, type LexOptions } from './lexer.js';

export { envFromPairs, pairsFromAssignments, type EnvLookup } from './env.js';

export interface ExpandOptions {
  /** The escape character: `\` by default, `` ` `` after a `# escape=`` ` directive. */
  escape?: '\\' | '`';
  /** Leave references to unset variables as written (`$FOO`, `${FOO:-x}`) instead of expanding them. */
  skipUnsetEnv?: boolean;
  /** Keep quote characters in the result (quotes still group words and stop `$` in `'...'`). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result (they still protect the next character). */
  rawEscapes?: boolean;
  /** Treat `'` and `"` as ordinary characters (BuildKit uses this for heredoc bodies). */
  skipProcessQuotes?: boolean;
}

export interface ExpansionInfo {
  /** The expanded word (ProcessWord). */
  result: string;
  /** The expanded word split into words (ProcessWords): quotes group, unquoted expansions split on whitespace. */
  words: string[];
  /** Names referenced and set (possibly to `''`), in first-reference order. */
  used: Set<string>;
  /** Names referenced but not set. Includes positional/special parameters like `1` or `@`, which are never set. */
  unset: Set<string>;
}

function lexOptions(opts: ExpandOptions | undefined): LexOptions {
  return {
    escape: opts?.escape ?? '\\',
    skipUnsetEnv: opts?.skipUnsetEnv ?? false,
    rawQuotes: opts?.rawQuotes ?? false,
    rawEscapes: opts?.rawEscapes ?? false,
    skipProcessQuotes: opts?.skipProcessQuotes ?? false,
  };
}

/**
 * Expand one word and report which variables it referenced.
 * Every `${...}` modifier word is expanded even when its value is not used
 * (as BuildKit does), so `${A:-$B}` references `B` even when `A` is set.
 * @throws ExpansionError on malformed syntax, unterminated quotes, or `${X:?msg}` / `${X?msg}` failing.
 */
export function expandWordWithInfo(word: string, env: EnvLookup, opts?: ExpandOptions): ExpansionInfo {
  return lex(word, env, lexOptions(opts));
}

/** Expand one word into one string (BuildKit ProcessWord). @throws ExpansionError */
export function expandWord(word: string, env: EnvLookup, opts?: ExpandOptions): string {
  return lex(word, env, lexOptions(opts)).result;
}

/** Expand and split into words (BuildKit ProcessWords). Empty words are dropped. @throws ExpansionError */
export function expandWords(word: string, env: EnvLookup, opts?: ExpandOptions): string[] {
  return lex(word, env, lexOptions(opts)).words;
}
