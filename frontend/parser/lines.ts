/**
 * Physical-line helpers shared by the parser: splitting text into lines that
 * keep their endings (heredoc bodies need them), comment detection and the
 * line-continuation rule for the current escape character.
 */
import { trimLeftGoSpace } from './words.js';

/** Splits after every `\n`, keeping the line endings (a final line may lack one). */
export function splitLinesKeepingEndings(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push(text.slice(start, end));
    start = end;
  }
  return lines;
}

/** Removes every trailing \r and \n (Go's bytes.TrimRight(s, "\r\n")). */
export function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === '\n' || line[end - 1] === '\r')) end--;
  return line.slice(0, end);
}

export function isCommentLine(line: string): boolean {
  return trimLeftGoSpace(line).startsWith('#');
}

export function isBlankLine(line: string): boolean {
  return trimLeftGoSpace(trimNewline(line)).length === 0;
}

/**
 * BuildKit's continuation rule: the escape character, optionally followed by
 * spaces/tabs, at the end of the line, not itself escaped by a preceding
 * escape character (though a lone escape on a line also continues).
 */
export function continuationMatcher(escape: string): (line: string) => { text: string; continues: boolean } {
  const esc = escape === '\\' ? '\\\\' : '`';
  const re = new RegExp(`([^${esc}])${esc}[ \\t]*$|^${esc}[ \\t]*$`);
  return (line) => {
    if (!re.test(line)) return { text: line, continues: false };
    return { text: line.replace(re, '$1'), continues: true };
  };
}
