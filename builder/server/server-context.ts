// What every request handler of `tsbuild serve` shares: the store root,
// the content-addressed context cache, running builds (their streamed
// outputs and forwarded SSH connections are separate requests that find
// them by id), and the server-wide settings.
import type { ServerHttp2Session } from 'node:http2';
import type { ContextCache } from './context-cache.js';
import type { ResultMemo } from './result-memo.js';
import type { BuildSession } from './build-session.js';
import type { CacheSpec } from '../pipeline/options.js';
import type { Limiter } from '../concurrency.js';

export interface ServeSettings {
  root: string;
  /** Server-wide bound on running steps of all builds together. */
  maxParallelism: number;
  /** Applied to every build that names none of its own. */
  cacheFrom: CacheSpec[];
  cacheTo: CacheSpec[];
  /** The insecure entitlements clients may ask for (buildkitd's --allow-insecure-entitlement): network.host, security.insecure. */
  allowInsecure: string[];
  /** The build cache size limit after each build (TSBUILD_GC_KEEP_STORAGE of the server). */
  keepStorage?: string;
}

export interface ServerContext {
  readonly version: string;
  readonly settings: ServeSettings;
  readonly contexts: ContextCache;
  /** Answers of identical builds of an unchanged store. */
  readonly memo: ResultMemo;
  readonly builds: Map<string, BuildSession>;
  /** One bound on running steps for all builds together. */
  readonly limiter: Limiter;
  readonly sessions: Set<ServerHttp2Session>;
  draining: boolean;
  log(line: string): void;
}
