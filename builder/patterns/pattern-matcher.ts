/**
 * An ordered list of patterns where later ones win, with the moby
 * patternmatcher semantics used by .dockerignore and COPY --exclude:
 * a pattern that matches a parent directory of a path matches the path too,
 * and `!pattern` exceptions re-include what earlier patterns excluded.
 */
import { compilePattern, isLiteralPrefix, withoutTrailingGlob, type CompiledPattern } from './pattern.js';

export class PatternMatcher {
  readonly patterns: readonly CompiledPattern[];
  /** True when at least one `!` exception pattern exists. */
  readonly hasExceptions: boolean;
  /** True when every exception pattern is a literal path (plus an optional trailing glob). */
  private readonly onlyPrefixExceptions: boolean;
  /** True when every non-exception pattern is a literal path (plus an optional trailing glob). */
  private readonly onlyPrefixIncludes: boolean;
  /** Per pattern, its text when it has no wildcard, class or escape: then it matches by comparison. */
  private readonly literals: readonly (string | undefined)[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.filter((p) => p.trim() !== '').map(compilePattern);
    this.hasExceptions = this.patterns.some((p) => p.exclusion);
    this.onlyPrefixExceptions = this.patterns.every((p) => !p.exclusion || isLiteralPrefix(p.text));
    this.onlyPrefixIncludes = this.patterns.every((p) => p.exclusion || isLiteralPrefix(p.text));
    this.literals = this.patterns.map((p) => (/[*?[\]\\]/.test(p.text) ? undefined : p.text));
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Does the list select `relPath` (relative, `/`-separated, no leading `/`)?
   * A pattern matching one of the parent directories counts as a match.
   */
  matches(relPath: string): boolean {
    // A context walk asks this of every entry, mostly against a few literal
    // names (`.git`, `node_modules`): those are compared, and the parent
    // chain is made only for a pattern that needs its regexp.
    let parents: string[] | undefined;
    let matched = false;
    for (let i = 0; i < this.patterns.length; i++) {
      const pattern = this.patterns[i]!;
      // An inclusion cannot change an already-matched path, nor an exception an unmatched one.
      if (pattern.exclusion !== matched) continue;
      const literal = this.literals[i];
      const hit = literal !== undefined
        // The whole path, or a parent directory of it: a prefix ending at a '/'.
        ? relPath === literal || (relPath.charCodeAt(literal.length) === 0x2f && relPath.startsWith(literal))
        : pattern.regexp.test(relPath) || (parents ??= parentChain(relPath)).some((dir) => pattern.regexp.test(dir));
      if (hit) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * For a directory that `matches()` (i.e. is excluded by an ignore list),
   * could an exception pattern still re-include something inside it?
   * Mirrors fsutil's walker: with only literal exceptions, descend only when
   * one of them lies below the directory; with wildcard exceptions, always.
   */
  exceptionCouldMatchInside(relDir: string): boolean {
    if (!this.hasExceptions) return false;
    if (!this.onlyPrefixExceptions) return true;
    const dirSlash = `${relDir}/`;
    return this.patterns.some((p) => p.exclusion && `${withoutTrailingGlob(p.text)}/`.startsWith(dirSlash));
  }

  /**
   * For a directory that does NOT match an include list, could a pattern
   * still select something inside it? Used to prune walks for --parents.
   */
  includeCouldMatchInside(relDir: string): boolean {
    if (!this.onlyPrefixIncludes) return true;
    const dirSlash = `${relDir}/`;
    return this.patterns.some((p) => !p.exclusion && `${withoutTrailingGlob(p.text)}/`.startsWith(dirSlash));
  }
}

/** "a/b/c" → ["a", "a/b"]. Prefixes cut at each `/`: the walk of a big context calls this per entry. */
function parentChain(relPath: string): string[] {
  const out: string[] = [];
  for (let i = relPath.indexOf('/'); i >= 0; i = relPath.indexOf('/', i + 1)) out.push(relPath.slice(0, i));
  return out;
}
