// `--call check`: run the build's planning with every lint rule, report
// the warnings (and the error, if the Dockerfile cannot be built) without
// building anything. Like BuildKit's DockerfileLint: no --target means all
// stages are checked.
import { clipText, DockerfileError, MAX_SHOWN_CHARS, formatDockerfileError } from '../errors.js';
import type { Dockerfile } from '../instructions/index.js';
import { planBuild, type BuildGraphOptions } from '../graph/build-graph.js';
import type { LintWarning } from '../graph/types.js';
import { Linter } from './linter.js';

export interface CheckResult {
  readonly warnings: readonly LintWarning[];
  /** Set when the Dockerfile cannot be built at all. */
  readonly error?: DockerfileError;
  /** `# check=error=true` was set (a build would fail on these warnings). */
  readonly errorOnWarning: boolean;
  /** What `--call check` exits with: 1 when there is any warning or an error, as buildx does. */
  readonly exitCode: 0 | 1;
}

export async function checkDockerfile(df: Dockerfile, opts: BuildGraphOptions): Promise<CheckResult> {
  let lint: Linter;
  try {
    lint = Linter.fromDirective(df.directives.check);
  } catch (e) {
    if (e instanceof DockerfileError) return { warnings: [], error: e, errorOnWarning: false, exitCode: 1 };
    throw e;
  }
  let error: DockerfileError | undefined;
  try {
    await planBuild(df, { ...opts, allStages: !opts.target, lint });
  } catch (e) {
    if (!(e instanceof DockerfileError)) throw e;
    error = e;
  }
  // Once each: a rule may meet the same spot again (a stage walked from two targets, ONBUILD triggers).
  const unique = new Map(lint.warnings.map((w) => [`${w.rule}\0${w.message}\0${w.loc?.file}\0${w.loc?.line}`, w]));
  const warnings = [...unique.values()].sort((a, b) => (a.loc?.line ?? 0) - (b.loc?.line ?? 0));
  return {
    warnings,
    ...(error ? { error } : {}),
    errorOnWarning: lint.config.errorOnWarning,
    exitCode: warnings.length > 0 || error ? 1 : 0,
  };
}

/** BuildKit's source excerpt: the flagged line(s) with up to 2 lines of context when the text is known; long lines are clipped. */
function excerpt(w: LintWarning, lines: string[] | undefined): string {
  const loc = w.loc!;
  let start = loc.line;
  let end = Math.max(loc.endLine, loc.line);
  if (lines) {
    end = Math.min(end, lines.length);
    const pad = start === end ? 4 : 2;
    for (let p = 0; p < pad; ) {
      if (start > 1) { start--; p++; }
      if (end !== lines.length) { end++; p++; }
      p++;
    }
  }
  let out = `${loc.file}:${loc.line}\n--------------------\n`;
  for (let i = start; i <= end; i++) {
    const flagged = i >= loc.line && i <= Math.max(loc.endLine, loc.line);
    const text = lines ? (lines[i - 1] ?? '') : i === loc.line ? loc.sourceLine : '';
    if (!lines && i !== loc.line) continue;
    out += ` ${String(i).padStart(3)} | ${flagged ? '>>>' : '   '} ${clipText(text)}\n`;
  }
  return `${out}--------------------\n`;
}

/** The report docker buildx prints for `--call check`; pass the Dockerfile text for context lines. */
export function formatCheckResult(result: CheckResult, source?: string): string {
  const n = result.warnings.length;
  let out: string;
  if (n === 0 && !result.error) out = 'Check complete, no warnings found.\n';
  else {
    const found = n === 0 ? '' : `${n} ${n === 1 ? 'warning has' : 'warnings have'} been found`;
    out = result.error ? `Check complete, ${found ? `${found} and ` : ''}the build would fail!\n` : `Check complete, ${found}!\n`;
  }
  const lines = source?.split('\n');
  for (const w of result.warnings) {
    out += `\nWARNING: ${w.rule}${w.url ? ` - ${w.url}` : ''}\n${clipText(w.message, 4 * MAX_SHOWN_CHARS)}\n`;
    if (w.loc) out += excerpt(w, lines);
  }
  if (result.error) out += `\nERROR: ${formatDockerfileError(result.error)}\n`;
  return out;
}
