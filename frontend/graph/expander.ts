// Variable expansion inside a stage, as BuildKit's dispatch does it: the
// stage's variables (config env + ARGs in scope), errors located at the
// instruction, and UndefinedVar warnings for names nobody declared.
import { expandWordWithInfo, expandWords } from '../shell/index.js';
import { UndefinedVar } from '../checks/rules.js';
import type { Linter } from '../checks/linter.js';
import { NON_ENV_ARGS } from './args.js';
import { attachLocation } from './location.js';
import type { StageState } from './state.js';
import { suggestName } from './suggest.js';
import type { Location } from './types.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class Expander {
  constructor(
    private readonly state: StageState,
    private readonly lint: Linter,
    private readonly loc: Location,
    private readonly escape: '\\' | '`',
  ) {}

  /** One word (BuildKit ProcessWord), reporting undefined variables. @throws DockerfileError at the instruction */
  word(word: string): string {
    return this.run(() => expandWordWithInfo(word, this.state.vars.lookup, { escape: this.escape }));
  }

  /** Split into words (BuildKit ProcessWords, used by EXPOSE); no UndefinedVar report, as BuildKit. */
  words(word: string): string[] {
    try {
      return expandWords(word, this.state.vars.lookup, { escape: this.escape });
    } catch (e) {
      throw attachLocation(e, this.loc);
    }
  }

  /** A heredoc body: quotes are ordinary characters and `\` is always the escape (BuildKit's ExpandRaw). */
  heredoc(content: string): string {
    return this.run(() => expandWordWithInfo(content, this.state.vars.lookup, { escape: '\\', skipProcessQuotes: true }));
  }

  private run(expand: () => { result: string; unset: Set<string> }): string {
    let info;
    try {
      info = expand();
    } catch (e) {
      throw attachLocation(e, this.loc);
    }
    this.reportUnset(info.unset);
    return info.result;
  }

  /** BuildKit's reportUnmatchedVariables: declared ARGs without a value are not "undefined". */
  private reportUnset(unset: Set<string>): void {
    if (unset.size === 0) return;
    const declared = new Set(this.state.buildArgs.map((a) => a.key));
    for (const name of unset) {
      if (!IDENTIFIER.test(name) || declared.has(name) || NON_ENV_ARGS.has(name)) continue;
      this.lint.run(UndefinedVar, this.loc, name, suggestName(name, this.state.vars.keys(), true));
    }
  }
}
