/**
 * Parser directives (`# syntax=`, `# escape=`, `# check=`): comment lines at
 * the very top of the file. As in BuildKit, the first line that is not a
 * well-formed known directive (a blank line, an instruction, any other
 * comment) ends the directive block for good, and each directive may appear
 * only once.
 */

const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
// Go's RE2 `\s` is [\t\n\f\r ]; JS `\s` is wider, so spell it out.
const DIRECTIVE_RE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/s;

export interface Directive {
  readonly name: 'syntax' | 'escape' | 'check';
  readonly value: string;
  readonly line: number;
}

/** Thrown for a repeated directive or a bad escape character; the parser adds the location. */
export class DirectiveProblem extends Error {}

export class DirectiveScanner {
  private done = false;
  private readonly seen = new Set<string>();

  /**
   * Looks at one line (already stripped of its line ending). Returns the
   * directive it holds, or undefined when it is not one (which also closes the
   * directive block).
   */
  scan(line: string, lineNumber: number): Directive | undefined {
    if (this.done) return undefined;
    if (!line.startsWith('#')) {
      this.done = true;
      return undefined;
    }
    const body = line.slice(1).replace(/^\s+/u, '');
    const match = DIRECTIVE_RE.exec(body);
    const name = match?.[1]?.toLowerCase();
    if (!match || !name || !KNOWN_DIRECTIVES.has(name)) {
      this.done = true;
      return undefined;
    }
    if (this.seen.has(name)) throw new DirectiveProblem(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    const value = match[2] ?? '';
    if (name === 'escape' && value !== '\\' && value !== '`') {
      throw new DirectiveProblem(`invalid escape token '${value}' does not match \` or \\`);
    }
    return { name: name as Directive['name'], value, line: lineNumber };
  }
}
