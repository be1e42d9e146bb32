// The Dockerfile frontend's public API: text → typed Dockerfile → BuildGraph,
// plus the `--call` subrequests. Pure: no fs, no network; base images come
// in through the ResolveImage callback.
export { parseDockerfile, typeDockerfile } from './instructions/index.js';
export type { Dockerfile } from './instructions/index.js';
export { DockerfileError, ExpansionError, formatDockerfileError, type SourceLocation } from './errors.js';
export * from './graph/index.js';
export {
  runCallMode, CALL_MODES, checkDockerfile, formatCheckResult, outlineBuild, formatOutline, listTargets, formatTargets,
  type CheckResult, type Outline, type OutlineArg, type OutlineMount, type TargetInfo,
} from './checks/index.js';
