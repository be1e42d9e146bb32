export { buildGraph, planBuild, type BuildGraphOptions, type BuildPlan, type PlanOptions, type StagePlanWithAuthor } from './build-graph.js';
export { PREDEFINED_ARGS, PROXY_ARGS, isProxyArg } from './args.js';
export { parseImageReference, type ImageReference } from './reference.js';
export { formatPlatform, parsePlatform } from './platform.js';
export type * from './types.js';
