// The solver with results that are still being written in the background
// (a layer's blob): dependents go on at once, the cache entry and the
// solve's end wait for the write, and a failed write fails the solve.
// Toy vertices, no containers, no files.
import test from 'ava';
import { Solver, SolveError, type ResultCache } from '../builder/solver/solver.js';
import type { ExecContext, Vertex } from '../builder/solver/vertex.js';
import { InFlightSteps } from '../builder/solver/in-flight.js';

class MemoryCache implements ResultCache<number> {
  readonly entries = new Map<string, number>();
  readonly puts: number[] = [];
  async get(key: string) { return this.entries.get(key); }
  async put(key: string, r: number) { this.puts.push(r); this.entries.set(key, r); }
}

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

// A vertex that returns `value` after its input's result plus `value`.
function step(name: string, value: number, input?: Vertex<number>, onExec?: (ctx: ExecContext<number>) => Promise<void>): Vertex<number> {
  return {
    name, inputs: input ? [input] : [],
    describe: () => ({ name, value }),
    exec: async (ctx) => {
      await onExec?.(ctx);
      return (ctx.inputs[0] ?? 0) + value;
    },
  };
}

test('a dependent runs while its input is still being written; the cache entry and the solve wait for the write', async (t) => {
  const cache = new MemoryCache();
  const write = deferred();
  const log: string[] = [];
  const copy = step('copy', 1);
  const run = step('run', 10, copy, async () => { log.push('run started'); });
  const written = write.promise.then(() => { log.push('written'); });
  // The run's result holds the copy's layer too: both wait for its write.
  const solver = new Solver<number>({ cache, unwritten: () => written });
  let settled = false;
  const solving = solver.solve([run]).then((r) => { settled = true; return r; });
  while (!log.includes('run started')) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  t.false(settled, 'the solve waits for the write');
  t.deepEqual(cache.puts, [], 'nothing is cached before the write is done');
  write.resolve();
  const [solved] = await solving;
  t.is(solved.result, 11);
  t.deepEqual(log, ['run started', 'written']);
  t.deepEqual(cache.puts.sort(), [1, 11]);
});

test('a failed write fails the solve naming its vertex, cancels the dependent and caches neither', async (t) => {
  const cache = new MemoryCache();
  const write = deferred();
  let canceled = false;
  const copy = step('[2/3] COPY . /app', 1);
  const run = step('run', 10, copy, (ctx) => new Promise<void>((resolve, reject) => {
    // Runs until canceled.
    ctx.signal.addEventListener('abort', () => { canceled = true; reject(new Error('aborted')); }, { once: true });
    setTimeout(() => write.reject(new Error('no space left on device')), 10);
    void resolve;
  }));
  const solver = new Solver<number>({ cache, unwritten: (r) => (r === 1 ? write.promise : undefined) });
  const err = await t.throwsAsync(solver.solve([run]));
  t.true(err instanceof SolveError);
  t.is(err!.message, '[2/3] COPY . /app: no space left on device');
  t.true(canceled, 'the step running on it was canceled');
  t.deepEqual(cache.puts, []);
});

test('a write that fails after the last step ended still fails the solve', async (t) => {
  const write = deferred();
  const copy = step('copy', 1);
  const solver = new Solver<number>({ cache: new MemoryCache(), unwritten: () => write.promise });
  const solving = solver.solve([copy]);
  setTimeout(() => write.reject(new Error('disk gone')), 20);
  await t.throwsAsync(solving, { message: 'copy: disk gone' });
});

test('another solve waiting for the same step reads it from the cache once it is written', async (t) => {
  const cache = new MemoryCache();
  const inFlight = new InFlightSteps();
  const write = deferred();
  let runs = 0;
  const make = () => step('copy', 1, undefined, async () => { runs++; await new Promise((r) => setTimeout(r, 20)); });
  const unwritten = () => write.promise;
  const first = new Solver<number>({ cache, inFlight, unwritten }).solve([make()]);
  await new Promise((r) => setTimeout(r, 5));
  const events: string[] = [];
  const second = new Solver<number>({ cache, inFlight, unwritten, onEvent: (e) => events.push(e.type) }).solve([make()]);
  await new Promise((r) => setTimeout(r, 60));
  t.is(runs, 1);
  t.deepEqual(events, [], 'the waiter waits for the write, not only for the step');
  write.resolve();
  const [[a], [b]] = await Promise.all([first, second]);
  t.is(a.result, 1);
  t.is(b.result, 1);
  t.is(runs, 1);
  t.deepEqual(events, ['cached']);
});
