// Runs lint rules under the `# check=` configuration: the file-level
// directive, plus `# check=...` comments directly above one instruction
// (which apply to that instruction only, as in BuildKit).
import { DockerfileError } from '../errors.js';
import type { LintWarning, Location } from '../graph/types.js';
import type { LintRule } from './rules.js';

export interface LintConfig {
  readonly skipAll: boolean;
  readonly skip: ReadonlySet<string>;
  readonly experimentalAll: boolean;
  readonly experimental: ReadonlySet<string>;
  /** `error=true`: any warning fails the build / check. */
  readonly errorOnWarning: boolean;
}

const EMPTY_CONFIG: LintConfig = {
  skipAll: false,
  skip: new Set(),
  experimentalAll: false,
  experimental: new Set(),
  errorOnWarning: false,
};

function ruleList(value: string): { all: boolean; names: Set<string> } {
  const v = value.trim();
  if (v === 'all') return { all: true, names: new Set() };
  return { all: false, names: new Set(v.split(',').map((s) => s.trim())) };
}

/** BuildKit's linter.ParseLintOptions: `skip=A,B;error=true;experimental=all`. @throws DockerfileError */
export function parseLintConfig(text: string | undefined): LintConfig {
  const spec = (text ?? '').trim();
  if (spec === '') return EMPTY_CONFIG;
  const config = { ...EMPTY_CONFIG, skip: new Set<string>(), experimental: new Set<string>() };
  // Like Go's strings.SplitN(s, ";", 3): a third part keeps any further ';'.
  const parts = spec.split(';');
  const limited = parts.length > 3 ? [...parts.slice(0, 2), parts.slice(2).join(';')] : parts;
  for (const part of limited) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new DockerfileError('BAD_CHECK_DIRECTIVE', `failed to parse check options: invalid check option ${JSON.stringify(part)}`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1);
    if (key === 'skip') {
      const { all, names } = ruleList(value);
      config.skipAll = all;
      config.skip = names;
    } else if (key === 'experimental') {
      const { all, names } = ruleList(value);
      config.experimentalAll = all;
      config.experimental = names;
    } else if (key === 'error') {
      const v = value.trim();
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) config.errorOnWarning = true;
      else if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) config.errorOnWarning = false;
      else throw new DockerfileError('BAD_CHECK_DIRECTIVE', `failed to parse check options: invalid value for ${JSON.stringify(part)}`);
    } else {
      throw new DockerfileError('BAD_CHECK_DIRECTIVE', `failed to parse check options: invalid check option ${JSON.stringify(key)}`);
    }
  }
  return config;
}

function mergeConfig(base: LintConfig, extra: LintConfig): LintConfig {
  return {
    skipAll: base.skipAll || extra.skipAll,
    skip: new Set([...base.skip, ...extra.skip]),
    experimentalAll: base.experimentalAll || extra.experimentalAll,
    experimental: new Set([...base.experimental, ...extra.experimental]),
    errorOnWarning: base.errorOnWarning,
  };
}

const COMMENT_DIRECTIVE = /^\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/** Shared by a linter and the per-instruction linters derived from it. */
interface Sink {
  readonly warnings: LintWarning[];
  readonly seen: Set<string>;
}

export class Linter {
  private constructor(
    readonly config: LintConfig,
    private readonly sink: Sink,
  ) {}

  /** A linter for a Dockerfile whose `# check=` directive is `directive`. @throws DockerfileError on a malformed directive */
  static fromDirective(directive: string | undefined): Linter {
    return new Linter(parseLintConfig(directive), { warnings: [], seen: new Set() });
  }

  /** The linter for one instruction: its `# check=...` comment (if any) adds to the file's configuration. */
  forComments(comments: readonly string[]): Linter {
    for (const comment of comments) {
      const m = COMMENT_DIRECTIVE.exec(comment);
      if (!m || m[1]!.toLowerCase() !== 'check') continue;
      const value = m[2]!.split(' ')[0]!;
      let extra: LintConfig;
      try {
        extra = parseLintConfig(value);
      } catch {
        return this; // BuildKit ignores a malformed per-instruction directive
      }
      return new Linter(mergeConfig(this.config, extra), this.sink);
    }
    return this;
  }

  isEnabled(rule: LintRule<never[]> | LintRule<any[]>): boolean {
    if (rule.experimental) return this.config.experimentalAll || this.config.experimental.has(rule.name);
    return !this.config.skipAll && !this.config.skip.has(rule.name);
  }

  run<A extends unknown[]>(rule: LintRule<A>, loc: Location | undefined, ...args: A): void {
    if (!this.isEnabled(rule)) return;
    const message = rule.format(...args);
    const key = `${rule.name}\0${message}\0${loc?.line ?? ''}`;
    if (this.sink.seen.has(key)) return;
    this.sink.seen.add(key);
    this.sink.warnings.push({ rule: rule.name, message, ...(loc ? { loc } : {}), ...(rule.url ? { url: rule.url } : {}) });
  }

  get warnings(): readonly LintWarning[] {
    return this.sink.warnings;
  }

  /** With `# check=error=true`: the failure message when any warning was reported, else undefined. */
  failure(): string | undefined {
    if (!this.config.errorOnWarning || this.sink.warnings.length === 0) return undefined;
    const rules = [...new Set(this.sink.warnings.map((w) => w.rule))];
    return `lint violation found for rules: ${rules.join(', ')}`;
  }
}
