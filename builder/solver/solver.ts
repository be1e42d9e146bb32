// Walks a graph of vertices: computes each cache key from the op and the
// input keys, reuses cached results, runs the rest in parallel (bounded by
// builder/concurrency.ts), runs identical vertices once, and cancels everything in flight
// on the first failure. With `inFlight`, a step another solve of this
// process is running right now is waited for instead of run again.
import { Limiter } from '../concurrency.js';
import { waitUnlessAborted, type InFlightSteps } from './in-flight.js';
import { cacheKeyOf, type Vertex } from './vertex.js';

export interface ResultCache<R> {
  get(key: string): Promise<R | undefined>;
  put(key: string, result: R): Promise<void>;
}

export type SolveEvent =
  // `miss`: why the vertex is not served from the cache, in user terms
  // (`src/main.ts changed`, `no cache entry`), when an explainer knows.
  | { type: 'start'; vertex: Vertex<unknown>; key: string; miss?: string }
  | { type: 'cached'; vertex: Vertex<unknown>; key: string }
  | { type: 'done'; vertex: Vertex<unknown>; key: string; ms: number }
  | { type: 'error'; vertex: Vertex<unknown>; key: string; error: unknown }
  | { type: 'canceled'; vertex: Vertex<unknown>; key: string }
  | { type: 'log'; vertex: Vertex<unknown>; stream: 'stdout' | 'stderr'; data: Buffer | string }
  | { type: 'status'; vertex: Vertex<unknown>; text: string; id?: string };

// What the solver knows about a vertex once its key is computed; handed to
// the explainer, which compares it with what it remembers from earlier builds.
export interface SolvedInfo {
  key: string;
  description: unknown;
  inputKeys: readonly string[];
  // False when the vertex may not be served from the cache (--no-cache).
  cacheable: boolean;
}

// Remembers vertices across builds to say why one was not served from the
// cache. The solver only calls it; what a description means is its business.
export interface MissExplainer {
  // Called before a vertex that missed the cache runs.
  explain(vertex: Vertex<unknown>, info: SolvedInfo): Promise<string | undefined>;
  // Called for every vertex solved (cached or run successfully).
  remember(vertex: Vertex<unknown>, info: SolvedInfo): Promise<void>;
}

export interface SolveOptions<R> {
  cache?: ResultCache<R>;
  explainer?: MissExplainer;
  jobs?: number;
  // Slots shared with other solves (a server's builds): wins over `jobs`.
  limiter?: Limiter;
  // Steps other solves on the same cache are running right now (a server's
  // builds): a cacheable step one of them runs is waited for, then read from
  // the cache.
  inFlight?: InFlightSteps;
  platform?: string;
  signal?: AbortSignal;
  onEvent?: (e: SolveEvent) => void;
  // What a result still has being written in the background (a layer's
  // blob): resolves once that is done, rejects when it failed; undefined
  // when nothing is. Dependents get the result at once; its cache entry
  // is written, and solve() settles, only once it is done. A failure fails
  // the solve as a failure of the vertex would.
  unwritten?: (result: R) => Promise<void> | undefined;
  // A vertex is about to run (no cached result): told before its miss is
  // explained and it waits for a slot, so that what running it needs can
  // start meanwhile.
  onRun?: (v: Vertex<R>) => void;
}

export class SolveError extends Error {
  constructor(readonly vertex: Vertex<unknown>, override readonly cause: unknown) {
    super(`${vertex.name}: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

interface Solved<R> { key: string; result: R }

export class Solver<R> {
  private readonly limiter: Limiter;
  private readonly byVertex = new Map<Vertex<R>, Promise<Solved<R>>>();
  private readonly byKey = new Map<string, Promise<R>>();
  private readonly abort = new AbortController();
  private firstError: unknown;
  // Explainer bookkeeping still being written; solve() waits for it.
  private readonly remembering: Promise<void>[] = [];
  // Results' background writes and the cache entries that wait for them; solve() waits for them.
  private readonly writing: Promise<void>[] = [];

  constructor(private readonly opts: SolveOptions<R> = {}) {
    this.limiter = opts.limiter ?? new Limiter(opts.jobs ?? 1);
    // A signal that fired before the solve (Ctrl-C during a pull) cancels it at once.
    if (opts.signal?.aborted) this.abort.abort(opts.signal.reason);
    else opts.signal?.addEventListener('abort', () => this.abort.abort(opts.signal!.reason), { once: true });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  // Solves the targets; rejects with the first failure (a SolveError naming the vertex).
  async solve(targets: readonly Vertex<R>[]): Promise<Solved<R>[]> {
    const all = targets.map((t) => this.solveOne(t));
    const settled = await Promise.allSettled(all);
    // Nothing is left writing once the solve settles, failed or not.
    for (let done = 0; done < this.writing.length;) {
      const batch = this.writing.slice(done);
      await Promise.all(batch);
      done += batch.length;
    }
    await Promise.all(this.remembering);
    if (this.firstError !== undefined) throw this.firstError;
    const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<Solved<R>>).value);
  }

  // The targets' results as soon as they are computed, while what is
  // written in the background (layer blobs, cache entries, histories) may
  // still be: solve() of the same targets waits for that, and is the one
  // that reports a failure as the solve's.
  results(targets: readonly Vertex<R>[]): Promise<Solved<R>[]> {
    return Promise.all(targets.map((t) => this.solveOne(t)));
  }

  // Every vertex solved so far (run or served from
  // the cache) with its key and result, for exporting the build cache.
  // Failed or canceled vertices are left out.
  async solvedEntries(): Promise<{ vertex: Vertex<R>; key: string; result: R }[]> {
    const settled = await Promise.allSettled([...this.byVertex].map(async ([vertex, p]) => ({ vertex, ...(await p) })));
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  keyOf(v: Vertex<R>): Promise<string> {
    return this.solveOne(v).then((s) => s.key);
  }

  private solveOne(v: Vertex<R>): Promise<Solved<R>> {
    let p = this.byVertex.get(v);
    if (!p) {
      p = this.compute(v);
      // Unobserved rejections are reported through solve(); avoid noise here.
      p.catch(() => undefined);
      this.byVertex.set(v, p);
    }
    return p;
  }

  private async compute(v: Vertex<R>): Promise<Solved<R>> {
    const inputs = await Promise.all(v.inputs.map((i) => this.solveOne(i)));
    let description: unknown;
    try {
      description = await v.describe();
    } catch (error) {
      // Keying failed (e.g. a COPY source is missing): as fatal as a failed run.
      throw this.fail(v, error);
    }
    const inputKeys = inputs.map((i) => i.key);
    const key = cacheKeyOf(description, inputKeys, this.opts.platform ?? '');
    let running = this.byKey.get(key);
    if (!running) {
      const info: SolvedInfo = { key, description, inputKeys, cacheable: v.cacheable !== false && this.opts.cache !== undefined };
      running = this.run(v, info, inputs.map((i) => i.result));
      running.catch(() => undefined);
      this.byKey.set(key, running);
    }
    return { key, result: await running };
  }

  // Off the critical path: dependents do not wait for the history to be
  // written; a failure only loses the next build's explanation.
  private remember(v: Vertex<R>, info: SolvedInfo): void {
    if (v.hidden || !this.opts.explainer) return;
    this.remembering.push(this.opts.explainer.remember(v, info).catch(() => undefined));
  }

  private async run(v: Vertex<R>, info: SolvedInfo, inputs: R[]): Promise<R> {
    const emit = v.hidden ? () => undefined : (this.opts.onEvent ?? (() => undefined));
    const { key, cacheable } = info;
    const explainer = v.hidden ? undefined : this.opts.explainer;
    let settle: ((ok: boolean) => void) | undefined;
    if (cacheable) {
      let found: { hit: R } | { settle?: (ok: boolean) => void };
      try {
        found = await this.lookup(key);
      } catch (error) {
        // Canceled while another build ran this step.
        if (this.abort.signal.aborted) emit({ type: 'canceled', vertex: v, key });
        throw error;
      }
      if ('hit' in found) {
        emit({ type: 'cached', vertex: v, key });
        this.remember(v, info);
        return found.hit;
      }
      settle = found.settle;
    }
    let ok = false;
    let stored: Promise<boolean> | undefined;
    try {
      this.opts.onRun?.(v);
      const executed = await this.execute(v, info, inputs, emit, explainer);
      stored = executed.stored;
      ok = true;
      return executed.result;
    } finally {
      // Waiters read the result from the cache (once it was put there), or run the step themselves.
      if (stored) void stored.then((written) => settle?.(written));
      else settle?.(ok);
    }
  }

  // The cached result of `key`, or, when another solve of this process is
  // running the same step right now, its result once it is in the cache.
  // Otherwise this solve runs the step: with `inFlight`, it claims the key
  // (no await between finding no owner and claiming) and must settle it.
  private async lookup(key: string): Promise<{ hit: R } | { settle?: (ok: boolean) => void }> {
    const inFlight = this.opts.inFlight;
    for (;;) {
      const hit = await this.opts.cache!.get(key);
      if (hit !== undefined) return { hit };
      const owner = inFlight?.owner(key);
      if (!owner) return { settle: inFlight?.claim(key) };
      // Success: the next get hits. Failure: run it here (or wait for whoever claimed it first).
      await waitUnlessAborted(owner, this.abort.signal);
    }
  }

  // The vertex's result, and when part of it is written in the background,
  // `stored`: true once that is done and the result is cached, false when it failed.
  private async execute(v: Vertex<R>, info: SolvedInfo, inputs: R[], emit: (e: SolveEvent) => void, explainer: MissExplainer | undefined): Promise<{ result: R; stored?: Promise<boolean> }> {
    const { key, cacheable } = info;
    // Explaining reads what earlier builds remembered: started before
    // queueing, so it never holds one of the --jobs slots, and not waited
    // for: the step runs meanwhile, and its events wait for the 'start'
    // event that carries the explanation (so the output reads as before).
    // A failing explainer costs an explanation, never the build.
    const explained = explainer ? explainer.explain(v, info).catch(() => undefined) : Promise.resolve(undefined);
    return this.limiter.run(async () => {
      if (this.abort.signal.aborted) {
        emit({ type: 'canceled', vertex: v, key });
        throw this.abort.signal.reason ?? new Error('canceled');
      }
      const started = Date.now();
      const held: SolveEvent[] = [];
      let open = false;
      const opened = explained.then((miss) => {
        emit(miss === undefined ? { type: 'start', vertex: v, key } : { type: 'start', vertex: v, key, miss });
        open = true;
        for (const e of held.splice(0)) emit(e);
      });
      const stepEmit = (e: SolveEvent) => (open ? emit(e) : held.push(e));
      try {
        const result = await v.exec({
          signal: this.abort.signal,
          inputs,
          log: (stream, data) => stepEmit({ type: 'log', vertex: v, stream, data }),
          status: (text, id) => stepEmit(id === undefined ? { type: 'status', vertex: v, text } : { type: 'status', vertex: v, text, id }),
        });
        await opened;
        const unwritten = this.opts.unwritten?.(result);
        if (!unwritten && cacheable) await this.opts.cache!.put(key, result);
        this.remember(v, info);
        emit({ type: 'done', vertex: v, key, ms: Date.now() - started });
        return unwritten ? { result, stored: this.storeWhenWritten(v, key, result, unwritten, cacheable) } : { result };
      } catch (error) {
        await opened;
        if (this.abort.signal.aborted && this.firstError !== undefined) {
          emit({ type: 'canceled', vertex: v, key });
          throw error;
        }
        emit({ type: 'error', vertex: v, key, error });
        throw this.fail(v, error);
      }
    }) as Promise<{ result: R; stored?: Promise<boolean> }>;
  }

  // Caches the result once its background writes are done; a failure of
  // either fails the solve, naming the vertex. Never rejects.
  private storeWhenWritten(v: Vertex<R>, key: string, result: R, unwritten: Promise<void>, cacheable: boolean): Promise<boolean> {
    const stored = unwritten.then(async () => {
      if (cacheable) await this.opts.cache!.put(key, result);
      return true;
    }).catch((error: unknown) => {
      this.fail(v, error);
      return false;
    });
    this.writing.push(stored.then(() => undefined));
    return stored;
  }

  // The first failure cancels every step still running or waiting.
  private fail(v: Vertex<R>, error: unknown): SolveError {
    const wrapped = error instanceof SolveError ? error : new SolveError(v, error);
    if (this.firstError === undefined) this.firstError = wrapped;
    this.abort.abort(wrapped);
    return wrapped;
  }
}
