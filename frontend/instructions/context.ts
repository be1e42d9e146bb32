/**
 * Error reporting for one instruction: every validation failure becomes a
 * DockerfileError pointing at the instruction's line, and at the column of
 * the offending text when it can be found on that line.
 */
import { DockerfileError } from '../errors.js';
import type { InstructionNode } from '../parser/types.js';
import type { InstructionLocation } from './types.js';
import { editDistance } from '../edit-distance.js';

export class InstructionContext {
  readonly location: InstructionLocation;

  constructor(
    readonly node: InstructionNode,
    readonly file?: string,
  ) {
    this.location = {
      ...(file !== undefined ? { file } : {}),
      startLine: node.startLine,
      endLine: node.endLine,
      sourceLine: node.sourceLine,
    };
  }

  /** Upper-case instruction name for messages. */
  get name(): string {
    return this.node.name.toUpperCase();
  }

  /**
   * Builds the error. `near` is text from the instruction (a flag, an
   * argument) whose position on the first line becomes the column.
   */
  error(code: string, message: string, near?: string): DockerfileError {
    const line = this.node.sourceLine;
    const keywordIndex = line.search(/\S/);
    // Look after the keyword first, so `near` does not match inside it (e.g. "R" in "RUN").
    const afterKeyword = keywordIndex >= 0 ? keywordIndex + this.node.keyword.length : 0;
    let index = near ? line.indexOf(near, afterKeyword) : -1;
    if (near && index < 0) index = line.indexOf(near);
    const col = index >= 0 ? index + 1 : keywordIndex >= 0 ? keywordIndex + 1 : undefined;
    return new DockerfileError(code, message, {
      ...(this.file !== undefined ? { file: this.file } : {}),
      line: this.node.startLine,
      ...(col !== undefined ? { col } : {}),
      ...(this.node.endLine > this.node.startLine ? { endLine: this.node.endLine } : {}),
      sourceLine: this.node.sourceLine,
    });
  }

  fail(code: string, message: string, near?: string): never {
    throw this.error(code, message, near);
  }

  /** Fields shared by every typed instruction. */
  common() {
    return {
      keyword: this.node.keyword,
      original: this.node.original,
      rawFlags: this.node.flags,
      location: this.location,
      comments: this.node.comments,
    };
  }
}

/** Closest candidate by edit distance, for "did you mean" hints. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const target = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(target, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Only suggest for small typos (a transposition costs 2), never for a word that is mostly wrong.
  return best !== undefined && bestDistance <= 2 && bestDistance < target.length ? best : undefined;
}
