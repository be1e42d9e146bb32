/**
 * A parse failure before its location is known. The line-level functions
 * throw it; the parser, which knows the line numbers, turns it into a
 * DockerfileError.
 */
export class ParseProblem extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
