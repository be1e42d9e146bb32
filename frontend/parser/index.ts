export { parseAst, type ParseOptions } from './parser.js';
export { dumpBuildkit, goQuote } from './dump.js';
export { chompHeredocContent, isHeredocMarker, parseHeredocMarker, type HeredocMarker } from './heredoc.js';
export { KNOWN_INSTRUCTIONS } from './arguments.js';
export type { DockerfileAst, Heredoc, InstructionNode, KeyValueArg, ParserDirectives, ParserWarning } from './types.js';
