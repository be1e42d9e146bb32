/**
 * Dockerfile text → untyped AST, reproducing BuildKit's parser
 * (frontend/dockerfile/parser/parser.go) line for line: directives, line
 * continuations (comments and blank lines inside them are skipped), heredoc
 * bodies, and per-instruction argument splitting.
 *
 * Why not dockerfile-ast: it tokenizes well, but its notion of an
 * instruction's arguments differs from BuildKit in the places the conformance
 * cases test (continuation lines that end in an escaped escape, blank and
 * comment lines inside continuations, JSON that falls back to shell form,
 * ENV/LABEL raw values, flags with quotes, heredoc detection through the
 * shell lexer). Reproducing those exactly is simpler on plain lines than by
 * re-assembling its ranges, so the parser works on lines itself.
 */
import { DockerfileError } from '../errors.js';
import { splitInstructionLine, type LineParts } from './arguments.js';
import { DirectiveProblem, DirectiveScanner } from './directives.js';
import { heredocMarkersOnLine, HeredocSyntaxError, type HeredocMarker } from './heredoc.js';
import { continuationMatcher, isBlankLine, isCommentLine, splitLinesKeepingEndings, trimNewline } from './lines.js';
import { ParseProblem } from './problem.js';
import type { DockerfileAst, Heredoc, InstructionNode, ParserDirectives, ParserWarning } from './types.js';
import { trimGoSpace, trimLeftGoSpace } from './words.js';

const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

export interface ParseOptions {
  /** Name shown in error locations (e.g. `Dockerfile`). */
  readonly file?: string;
}

class LineReader {
  private index = 0;
  /** 1-based number of the last line returned. */
  lineNumber = 0;
  constructor(private readonly lines: string[]) {}
  next(): string | undefined {
    if (this.index >= this.lines.length) return undefined;
    this.lineNumber++;
    return this.lines[this.index++];
  }
  physical(lineNumber: number): string {
    return trimNewline(this.lines[lineNumber - 1] ?? '');
  }
}

function canContainHeredoc(parts: LineParts): boolean {
  const target = parts.keyword.toLowerCase() === 'onbuild' && parts.child ? parts.child : parts;
  return HEREDOC_INSTRUCTIONS.has(target.keyword.toLowerCase()) && !target.json;
}

export function parseAst(text: string, opts: ParseOptions = {}): DockerfileAst {
  const source = text.startsWith('\ufeff') ? text.slice(1) : text;
  const reader = new LineReader(splitLinesKeepingEndings(source));
  const fail = (code: string, message: string, line: number, endLine?: number): never => {
    throw new DockerfileError(code, message, {
      file: opts.file,
      line,
      endLine: endLine !== undefined && endLine > line ? endLine : undefined,
      sourceLine: reader.physical(line),
    });
  };

  const directiveScanner = new DirectiveScanner();
  const directives: { syntax?: string; escape: '\\' | '`'; check?: string } = { escape: '\\' };
  let continuation = continuationMatcher(directives.escape);
  const scanDirective = (line: string, lineNumber: number): boolean => {
    try {
      const found = directiveScanner.scan(line, lineNumber);
      if (!found) return false;
      if (found.name === 'escape') {
        directives.escape = found.value as '\\' | '`';
        continuation = continuationMatcher(directives.escape);
      } else {
        directives[found.name] = found.value;
      }
      return true;
    } catch (e) {
      if (e instanceof DirectiveProblem) return fail('BAD_DIRECTIVE', e.message, lineNumber);
      throw e;
    }
  };

  const instructions: InstructionNode[] = [];
  const warnings: ParserWarning[] = [];
  let comments: string[] = [];

  for (let raw = reader.next(); raw !== undefined; raw = reader.next()) {
    const startLine = reader.lineNumber;
    if (isCommentLine(raw)) {
      const comment = trimGoSpace(raw.slice(1));
      if (comment === '') comments = [];
      else comments.push(comment);
    }
    const firstLine = trimLeftGoSpace(trimNewline(raw));
    if (scanDirective(firstLine, startLine)) comments.pop();
    const first = continuation(isCommentLine(firstLine) ? '' : firstLine);
    if (!first.continues && first.text.length === 0) continue;

    let logical = first.text;
    let continues = first.continues;
    let hasEmptyContinuationLine = false;
    while (continues) {
      const next = reader.next();
      if (next === undefined) break;
      const stripped = trimNewline(next);
      scanDirective(stripped, reader.lineNumber);
      if (isCommentLine(next)) continue;
      if (isBlankLine(stripped)) {
        hasEmptyContinuationLine = true;
        continue;
      }
      const part = continuation(stripped);
      logical += part.text;
      continues = part.continues;
    }
    if (hasEmptyContinuationLine) {
      warnings.push({ message: `Empty continuation line found in: ${logical}`, line: reader.lineNumber });
    }

    let parts: LineParts;
    try {
      parts = splitInstructionLine(logical, directives.escape);
    } catch (e) {
      if (e instanceof ParseProblem) return fail(e.code, e.message, startLine, reader.lineNumber);
      throw e;
    }

    const heredocs: Heredoc[] = [];
    if (canContainHeredoc(parts) && logical.includes('<<')) {
      let markers: HeredocMarker[];
      try {
        markers = heredocMarkersOnLine(logical);
      } catch (e) {
        if (e instanceof HeredocSyntaxError) return fail('BAD_HEREDOC', e.message, startLine, reader.lineNumber);
        throw e;
      }
      for (const marker of markers) heredocs.push(readHeredocBody(reader, marker, startLine, fail));
    }

    const location = {
      heredocs,
      original: logical,
      startLine,
      endLine: reader.lineNumber,
      sourceLine: reader.physical(startLine),
      comments,
    };
    const toNode = (p: LineParts): InstructionNode => ({
      keyword: p.keyword,
      name: p.keyword.toLowerCase(),
      flags: p.flags,
      args: p.args,
      ...(p.pairs ? { pairs: p.pairs } : {}),
      ...(p.child ? { child: toNode(p.child) } : {}),
      json: p.json,
      ...location,
    });
    instructions.push(toNode(parts));
    comments = [];
  }

  if (instructions.length === 0) {
    fail('EMPTY_DOCKERFILE', 'file with no instructions', Math.max(reader.lineNumber, 1));
  }
  const finalDirectives: ParserDirectives = { ...directives };
  return { directives: finalDirectives, instructions, warnings, ...(opts.file !== undefined ? { file: opts.file } : {}) };
}

function readHeredocBody(
  reader: LineReader,
  marker: HeredocMarker,
  startLine: number,
  fail: (code: string, message: string, line: number, endLine?: number) => never,
): Heredoc {
  let content = '';
  for (let raw = reader.next(); raw !== undefined; raw = reader.next()) {
    let candidate = trimNewline(raw);
    if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
    if (candidate === marker.name) return { ...marker, content };
    content += raw;
  }
  return fail('UNTERMINATED_HEREDOC', `unterminated heredoc ${JSON.stringify(marker.name)}`, startLine, reader.lineNumber);
}
