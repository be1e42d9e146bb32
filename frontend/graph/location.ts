// Instruction positions → the graph's Location (for warnings and steps) and
// the errors' SourceLocation (for `Dockerfile:12` messages).
import { DockerfileError, type SourceLocation } from '../errors.js';
import type { InstructionLocation } from '../instructions/index.js';
import type { Location } from './types.js';

export function toLocation(loc: InstructionLocation, file: string): Location {
  return { file, line: loc.startLine, endLine: loc.endLine, sourceLine: loc.sourceLine };
}

export function toSourceLocation(loc: Location): SourceLocation {
  const col = loc.sourceLine.search(/\S/);
  return {
    file: loc.file,
    line: loc.line,
    ...(col >= 0 ? { col: col + 1 } : {}),
    ...(loc.endLine > loc.line ? { endLine: loc.endLine } : {}),
    sourceLine: loc.sourceLine,
  };
}

/** A DockerfileError at `loc`. */
export function errorAt(loc: Location, code: string, message: string): DockerfileError {
  return new DockerfileError(code, message, toSourceLocation(loc));
}

/** Gives a DockerfileError without a position this instruction's position; other errors pass through. */
export function attachLocation(e: unknown, loc: InstructionLocation | Location, file?: string): unknown {
  if (e instanceof DockerfileError) {
    const where = 'startLine' in loc ? toLocation(loc, file ?? loc.file ?? 'Dockerfile') : loc;
    e.atLocation(toSourceLocation(where));
  }
  return e;
}
