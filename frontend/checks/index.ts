export { runCallMode, CALL_MODES } from './call-mode.js';
export { checkDockerfile, formatCheckResult, type CheckResult } from './check.js';
export { outlineBuild, formatOutline, type Outline, type OutlineArg, type OutlineMount } from './outline.js';
export { listTargets, formatTargets, type TargetInfo } from './targets.js';
export { Linter, parseLintConfig, type LintConfig } from './linter.js';
export * as rules from './rules.js';
