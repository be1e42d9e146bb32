// The solver's whole view of an operation: what it depends on, what makes
// it unique (its op description, hashed into the cache key) and how to run
// it. It never knows what an op does; tests drive it with toy arithmetic ops.
import { createHash } from '../../runner-native/native-crypto.js';

// Bump whenever the meaning of an op description changes: old cache
// entries then simply stop matching instead of being misread.
// 2: a step that changes nothing adds an empty layer (results cached under
// 1 lack it).
export const CACHE_KEY_SCHEMA = 2;

export interface ExecContext<R> {
  signal: AbortSignal;
  inputs: R[];
  // Step output (RUN's stdout/stderr), shown by the progress writer.
  log(stream: 'stdout' | 'stderr', data: Buffer | string): void;
  // A status line of the step (`extracting sha256:... 1.2s done`). Lines
  // with the same id are one status being updated: live views show only
  // its latest text, logs every update.
  status(text: string, id?: string): void;
}

export interface Vertex<R> {
  // Shown in progress output, e.g. `[build 2/4] RUN make`.
  readonly name: string;
  readonly inputs: readonly Vertex<R>[];
  // A JSON-able description of everything that determines the result
  // besides the inputs (command, env, content digests of COPY sources...).
  // May be async: COPY hashes the files it selects.
  describe(): unknown | Promise<unknown>;
  exec(ctx: ExecContext<R>): Promise<R>;
  // False for ops whose result must never be reused (--no-cache for a stage).
  readonly cacheable?: boolean;
  // Not shown in progress output (e.g. the empty filesystem of FROM scratch).
  readonly hidden?: boolean;
}

export function cacheKeyOf(description: unknown, inputKeys: readonly string[], platform: string): string {
  const json = stableStringify({ v: CACHE_KEY_SCHEMA, op: description, platform, inputs: inputKeys });
  return 'sha256:' + createHash('sha256').update(json).digest('hex');
}

// JSON with sorted object keys, so equal descriptions give equal keys.
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map(stableStringify).join(',') + ']';
  if (value instanceof Map) return stableStringify(Object.fromEntries([...value.entries()].sort()));
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + stableStringify(obj[k])).join(',') + '}';
}
