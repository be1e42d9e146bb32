// Whether a build's result followed from the local store and its own
// inputs alone: every step came from the local cache index (none ran), and
// no step consulted anything outside the store (an ADD of a URL or a git
// repository is checked against its server on every build, a remote
// --build-context is fetched). Asked again of the same store, such a build
// gives the same result; a build server's memo of identical requests
// (server/result-memo.ts) relies on that, and on the cache keys the build
// read to tell when the store changed under it.
import type { BuildGraph } from '../../frontend/graph/types.js';
import type { ResultCache, SolveEvent } from '../solver/solver.js';
import { isHttpUrl } from '../fileops/fetch-url.js';
import { isGitSource } from '../fileops/sources.js';

export class StoreOnlyTracker {
  private readonly keys = new Set<string>();
  private readonly written = new Set<string>();
  private ran = false;

  /** The local cache index as the solver sees it: hits are remembered, a put means a step ran. */
  wrap<R>(cache: ResultCache<R>): ResultCache<R> {
    return {
      get: async (key) => {
        const hit = await cache.get(key);
        if (hit !== undefined) this.keys.add(key);
        return hit;
      },
      put: async (key, result) => {
        this.ran = true;
        this.written.add(key);
        await cache.put(key, result);
      },
    };
  }

  /** Every cache key found or written: the entries the same build, asked again, reads. */
  keysUsed(): string[] {
    return [...new Set([...this.keys, ...this.written])].sort();
  }

  /** A step that starts runs (uncacheable ones put nothing). */
  readonly onEvent = (e: SolveEvent): void => {
    if (e.type === 'start') this.ran = true;
  };

  /** The cache keys read, when the result followed from the store alone; undefined otherwise. */
  keysIfStoreOnly(graph: BuildGraph, buildContexts: readonly { value: string }[]): string[] | undefined {
    if (this.ran) return undefined;
    if (buildContexts.some((c) => /:\/\/|^git@|^github\.com\//.test(c.value))) return undefined;
    const remote = graph.stages.some((s) => s.steps.some((step) => step.kind === 'copy' && step.sources.some((src) => isHttpUrl(src) || isGitSource(src))));
    return remote ? undefined : [...this.keys].sort();
  }
}
