export { parseDockerfile, typeDockerfile } from './dockerfile.js';
export { convertInstruction } from './convert.js';
export { parseMount, MountError } from './mount.js';
export { parseGoDuration, DurationError } from './duration.js';
export { ENV_REPLACEMENT_INSTRUCTIONS, EXPANDED_FIELDS, expandsVariables } from './expansion.js';
export type * from './types.js';
export type { ParseOptions } from '../parser/parser.js';
