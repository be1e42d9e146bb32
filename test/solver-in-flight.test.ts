// Two solves of one process on one cache (a server's builds) that need the
// same step at the same moment: it runs once, the other solve reads it from
// the cache; an owner that fails or is canceled leaves the waiter to run it
// itself; a waiter that is canceled stops waiting at once. Toy vertices.
import test from 'ava';
import { Solver, type ResultCache, type SolveEvent } from '../builder/solver/solver.js';
import { InFlightSteps } from '../builder/solver/in-flight.js';
import type { ExecContext, Vertex } from '../builder/solver/vertex.js';

class MemoryCache implements ResultCache<number> {
  readonly entries = new Map<string, number>();
  async get(key: string) { return this.entries.get(key); }
  async put(key: string, r: number) { this.entries.set(key, r); }
}

// A step that runs until the test opens its gate (or its solve is canceled),
// then fails when told to; `runs` counts how many solves executed it.
function gated(counter: { runs: number }, gate: Promise<void>, opts: { fail?: () => boolean } = {}): Vertex<number> {
  return {
    name: 'slow shared step', inputs: [],
    describe: () => ({ op: 'slow' }),
    exec: async (ctx: ExecContext<number>) => {
      counter.runs++;
      await new Promise<void>((resolve, reject) => {
        void gate.then(resolve);
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
      if (opts.fail?.()) throw new Error('step failed');
      return 42;
    },
  };
}

function opened(): { gate: Promise<void>; open(): void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  return { gate, open };
}

function solver(cache: MemoryCache, inFlight: InFlightSteps | undefined, events: SolveEvent[], signal?: AbortSignal): Solver<number> {
  return new Solver<number>({ cache, inFlight, jobs: 4, onEvent: (e) => events.push(e), ...(signal ? { signal } : {}) });
}

const types = (events: SolveEvent[]) => events.map((e) => e.type);
const tick = () => new Promise((r) => setTimeout(r, 20));

test('a step two solves need at once runs once; the second shows it cached', async (t) => {
  const cache = new MemoryCache();
  const inFlight = new InFlightSteps();
  const counter = { runs: 0 };
  const { gate, open } = opened();
  const a: SolveEvent[] = [], b: SolveEvent[] = [];
  const first = solver(cache, inFlight, a).solve([gated(counter, gate)]);
  await tick();
  const second = solver(cache, inFlight, b).solve([gated(counter, gate)]);
  await tick();
  open();
  const [[ra], [rb]] = await Promise.all([first, second]);
  t.is(ra!.result, 42);
  t.is(rb!.result, 42);
  t.is(counter.runs, 1);
  t.deepEqual(types(a), ['start', 'done']);
  t.deepEqual(types(b), ['cached']);
  t.is(inFlight.size, 0);
});

test('without a shared in-flight set each solve runs the step', async (t) => {
  const cache = new MemoryCache();
  const counter = { runs: 0 };
  const { gate, open } = opened();
  const first = solver(cache, undefined, []).solve([gated(counter, gate)]);
  await tick();
  const second = solver(cache, undefined, []).solve([gated(counter, gate)]);
  await tick();
  open();
  await Promise.all([first, second]);
  t.is(counter.runs, 2);
});

test('an owner canceled mid-step leaves the waiting solve to run it itself', async (t) => {
  const cache = new MemoryCache();
  const inFlight = new InFlightSteps();
  const counter = { runs: 0 };
  const { gate, open } = opened();
  const cancelOwner = new AbortController();
  const b: SolveEvent[] = [];
  const owner = solver(cache, inFlight, [], cancelOwner.signal).solve([gated(counter, gate)]);
  await tick();
  const waiter = solver(cache, inFlight, b).solve([gated(counter, gate)]);
  await tick();
  t.is(counter.runs, 1);
  cancelOwner.abort(new Error('client went away'));
  await t.throwsAsync(owner);
  await tick();
  t.is(counter.runs, 2, 'the waiter took the step over');
  open();
  const [r] = await waiter;
  t.is(r!.result, 42);
  t.deepEqual(types(b), ['start', 'done']);
  t.is(cache.entries.size, 1);
});

test('an owner whose step fails leaves the waiter to run it (and see its own failure)', async (t) => {
  const cache = new MemoryCache();
  const inFlight = new InFlightSteps();
  const counter = { runs: 0 };
  const { gate, open } = opened();
  const b: SolveEvent[] = [];
  const owner = solver(cache, inFlight, []).solve([gated(counter, gate, { fail: () => true })]);
  await tick();
  const waiter = solver(cache, inFlight, b).solve([gated(counter, gate, { fail: () => true })]);
  await tick();
  open();
  await t.throwsAsync(owner, { message: /step failed/ });
  await t.throwsAsync(waiter, { message: /step failed/ });
  t.is(counter.runs, 2);
  t.deepEqual(types(b), ['start', 'error']);
});

test('a waiter canceled while the owner runs stops waiting at once; the owner is unaffected', async (t) => {
  const cache = new MemoryCache();
  const inFlight = new InFlightSteps();
  const counter = { runs: 0 };
  const { gate, open } = opened();
  const cancelWaiter = new AbortController();
  const b: SolveEvent[] = [];
  const owner = solver(cache, inFlight, []).solve([gated(counter, gate)]);
  await tick();
  const waiter = solver(cache, inFlight, b, cancelWaiter.signal).solve([gated(counter, gate)]);
  await tick();
  cancelWaiter.abort(new Error('Ctrl-C'));
  // The owner's step is still held at its gate: the waiter must not wait for it.
  await t.throwsAsync(waiter, { message: /Ctrl-C/ });
  t.deepEqual(types(b), ['canceled']);
  open();
  const [r] = await owner;
  t.is(r!.result, 42);
  t.is(counter.runs, 1);
});

test('a --no-cache solve neither waits for nor shares a step', async (t) => {
  const cache = new MemoryCache();
  const inFlight = new InFlightSteps();
  const counter = { runs: 0 };
  const { gate, open } = opened();
  const uncached = { ...gated(counter, gate), cacheable: false };
  const first = solver(cache, inFlight, []).solve([gated(counter, gate)]);
  await tick();
  const second = solver(cache, inFlight, []).solve([uncached]);
  await tick();
  t.is(counter.runs, 2);
  open();
  await Promise.all([first, second]);
});
