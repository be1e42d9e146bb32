// User-facing errors of the Dockerfile frontend. Every class here sets
// `userError = true` and a stable `code`, so the CLI prints the message on
// one line instead of a stack trace (a stack trace means a tsbuild bug).

/** Where in a Dockerfile an error applies. Lines and columns are 1-based. */
export interface SourceLocation {
  file?: string;
  line: number;
  col?: number;
  endLine?: number;
  /** The offending source text; several lines if the instruction spans them. */
  sourceLine?: string;
}

export class DockerfileError extends Error {
  readonly userError = true;

  constructor(
    readonly code: string,
    message: string,
    // Mutable on purpose: low-level helpers (the word expander) throw without
    // knowing the position; the parser catches and attaches it.
    public location?: SourceLocation,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** Attach a location unless one is already known; returns `this` for `throw e.atLocation(loc)`. */
  atLocation(location: SourceLocation): this {
    this.location ??= location;
    return this;
  }
}

/** How much of a source line (or a quoted word) messages and excerpts show: a 5 MB line must not make a 5 MB report. */
export const MAX_SHOWN_CHARS = 200;

/** `text`, or its start and how much was left out. */
export function clipText(text: string, max = MAX_SHOWN_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

/** Variable expansion failed: malformed `${...}`, unterminated quote, or `${X:?msg}`. */
export class ExpansionError extends DockerfileError {
  constructor(
    /** The bare reason, e.g. `X: is not allowed to be unset`. */
    readonly reason: string,
    /** The whole word that was being expanded. */
    readonly word: string,
    location?: SourceLocation,
  ) {
    // Same wording as BuildKit, so users searching for the message find answers.
    super('EXPANSION', `failed to process ${JSON.stringify(clipText(word))}: ${reason}`, location);
  }
}

/**
 * Render `Dockerfile:12:5: <message>` followed by the source line(s), e.g.
 *
 *     Dockerfile:12:5: failed to process "${X:?}": X: is not allowed to be unset
 *      12 | RUN echo ${X:?}
 */
export function formatDockerfileError(e: DockerfileError): string {
  const loc = e.location;
  if (!loc) return e.message;
  const where = `${loc.file ?? 'Dockerfile'}:${loc.line}${loc.col !== undefined ? `:${loc.col}` : ''}`;
  // Messages may quote the input; bound them like the excerpt lines.
  const head = `${where}: ${clipText(e.message, 4 * MAX_SHOWN_CHARS)}`;
  if (loc.sourceLine === undefined) return head;
  const lines = loc.sourceLine.replace(/\r?\n$/, '').split(/\r?\n/);
  const width = String(loc.line + lines.length - 1).length;
  const body = lines.map((text, i) => ` ${String(loc.line + i).padStart(width)} | ${clipText(text)}`);
  return [head, ...body].join('\n');
}

/**
 * The Dockerfile around an error, as buildx prints it (BuildKit's
 * errdefs.Source.Print): two lines of context either side of a one-line
 * range, one for a longer range, `>>>` on the lines at fault.
 *
 *     Dockerfile:4
 *     --------------------
 *        2 |     RUN true
 *        3 |
 *        4 | >>> RUN exit 3
 *        5 |     ENV A=b
 *     --------------------
 */
export function formatSourceExcerpt(text: string, file: string, line: number, endLine = line): string | undefined {
  const lines = text.split('\n');
  if (line < 1 || line > lines.length) return undefined;
  let start = line;
  let end = Math.min(Math.max(endLine, line), lines.length);
  const pad = end === start ? 4 : 2;
  // The same walk as BuildKit's, so the same lines show.
  for (let p = 0; p < pad; p++) {
    if (start > 1) {
      start--;
      p++;
    }
    if (end !== lines.length) {
      end++;
      p++;
    }
  }
  const out = [`${file}:${line}`, '-'.repeat(20)];
  for (let i = start; i <= end; i++) {
    const marker = i >= line && i <= Math.max(endLine, line) ? '>>>' : '   ';
    out.push(` ${String(i).padStart(3)} | ${marker} ${lines[i - 1]!.replace(/\r$/, '')}`);
  }
  out.push('-'.repeat(20));
  return out.join('\n');
}
