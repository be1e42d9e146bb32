// The solver with toy arithmetic vertices: no containers, no files.
import test from 'ava';
import { Solver, SolveError, type MissExplainer, type ResultCache, type SolveEvent } from '../builder/solver/solver.js';
import type { Vertex, ExecContext } from '../builder/solver/vertex.js';

class MemoryCache implements ResultCache<number> {
  readonly entries = new Map<string, number>();
  async get(key: string) { return this.entries.get(key); }
  async put(key: string, r: number) { this.entries.set(key, r); }
}

function num(n: number): Vertex<number> & { runs: number } {
  const v = { name: `num ${n}`, inputs: [], runs: 0, describe: () => ({ num: n }), exec: async () => { v.runs++; return n; } };
  return v;
}

function add(a: Vertex<number>, b: Vertex<number>, opts: { delayMs?: number; name?: string } = {}): Vertex<number> & { runs: number } {
  const v = {
    name: opts.name ?? 'add', inputs: [a, b], runs: 0,
    describe: () => ({ op: 'add' }),
    exec: async (ctx: ExecContext<number>) => {
      v.runs++;
      if (opts.delayMs) await sleep(opts.delayMs, ctx.signal);
      return ctx.inputs[0] + ctx.inputs[1];
    },
  };
  return v;
}

function fail(after: number): Vertex<number> {
  return { name: 'fail', inputs: [], describe: () => ({ op: 'fail' }), exec: async () => { await sleep(after); throw new Error('boom'); } };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); }, { once: true });
  });
}

test('computes results through the graph', async (t) => {
  const sum = add(add(num(1), num(2)), num(3));
  const [r] = await new Solver<number>().solve([sum]);
  t.is(r.result, 6);
  t.regex(r.key, /^sha256:[0-9a-f]{64}$/);
});

test('a second solve with the same cache runs nothing', async (t) => {
  const cache = new MemoryCache();
  const build = () => { const a = num(1), b = num(2); const s = add(a, b); return { s, all: [a, b, s] }; };
  const first = build();
  await new Solver<number>({ cache }).solve([first.s]);
  const second = build();
  const events: SolveEvent[] = [];
  const [r] = await new Solver<number>({ cache, onEvent: (e) => events.push(e) }).solve([second.s]);
  t.is(r.result, 3);
  t.deepEqual(second.all.map((v) => v.runs), [0, 0, 0]);
  t.true(events.every((e) => e.type === 'cached'));
});

test('changing an input changes every key downstream', async (t) => {
  const s = new Solver<number>();
  const k1 = await s.keyOf(add(num(1), num(2)));
  const k2 = await s.keyOf(add(num(1), num(5)));
  t.not(k1, k2);
});

test('identical vertices run once', async (t) => {
  const x = add(num(1), num(2));
  const y = add(num(1), num(2));
  const results = await new Solver<number>().solve([add(x, y)]);
  t.is(results[0].result, 6);
  t.is(x.runs + y.runs, 1);
});

test('independent vertices overlap in time', async (t) => {
  const events: string[] = [];
  const a = add(num(1), num(1), { delayMs: 50, name: 'a' });
  const b = add(num(2), num(2), { delayMs: 50, name: 'b' });
  await new Solver<number>({ jobs: 2, onEvent: (e) => { if (e.type === 'start' || e.type === 'done') events.push(`${e.type}:${e.vertex.name}`); } }).solve([a, b]);
  // Both started before either finished.
  const firstDone = events.findIndex((e) => e.startsWith('done:a') || e.startsWith('done:b'));
  t.true(events.indexOf('start:a') < firstDone && events.indexOf('start:b') < firstDone, events.join(' '));
});

test('with one job, independent vertices run one after the other', async (t) => {
  const events: string[] = [];
  const a = add(num(1), num(1), { delayMs: 20, name: 'a' });
  const b = add(num(2), num(2), { delayMs: 20, name: 'b' });
  await new Solver<number>({ jobs: 1, onEvent: (e) => { if (e.type === 'start' || e.type === 'done') events.push(`${e.type}:${e.vertex.name}`); } }).solve([a, b]);
  const names = events.filter((e) => /:(a|b)$/.test(e));
  t.deepEqual(names.map((e) => e.split(':')[0]), ['start', 'done', 'start', 'done']);
});

test('the first failure cancels in-flight work and names the vertex', async (t) => {
  const slow = add(num(1), num(2), { delayMs: 5000, name: 'slow' });
  const events: SolveEvent[] = [];
  const started = Date.now();
  const err = await t.throwsAsync(new Solver<number>({ jobs: 2, onEvent: (e) => events.push(e) }).solve([slow, fail(20)]));
  t.true(err instanceof SolveError);
  t.is((err as SolveError).vertex.name, 'fail');
  t.true(events.some((e) => e.type === 'canceled' && e.vertex.name === 'slow'));
  t.true(Date.now() - started < 4000, 'slow vertex was not cancelled');
});

test('failures are not cached', async (t) => {
  const cache = new MemoryCache();
  await t.throwsAsync(new Solver<number>({ cache }).solve([fail(0)]));
  t.is(cache.entries.size, 0);
});

test('misses are explained on the start event; every solved vertex is remembered', async (t) => {
  const cache = new MemoryCache();
  const remembered: string[] = [];
  const explained: string[] = [];
  const explainer: MissExplainer = {
    explain: async (v, info) => { explained.push(v.name); return info.cacheable ? `why ${v.name}` : 'no-cache'; },
    remember: async (v) => { remembered.push(v.name); },
  };
  const build = (n: number) => add(num(1), num(n), { name: 'sum' });
  await new Solver<number>({ cache, explainer }).solve([build(2)]);
  t.deepEqual(explained.sort(), ['num 1', 'num 2', 'sum']);
  t.deepEqual(remembered.sort(), ['num 1', 'num 2', 'sum']);

  explained.length = 0;
  remembered.length = 0;
  const events: SolveEvent[] = [];
  await new Solver<number>({ cache, explainer, onEvent: (e) => events.push(e) }).solve([build(3)]);
  // Only the misses are explained, and the reason rides on their start event.
  t.deepEqual(explained.sort(), ['num 3', 'sum']);
  const start = events.find((e) => e.type === 'start' && e.vertex.name === 'sum');
  t.is(start?.type === 'start' ? start.miss : undefined, 'why sum');
  t.deepEqual(remembered.sort(), ['num 1', 'num 3', 'sum']);
});

test('a failing explainer never fails the build', async (t) => {
  const explainer: MissExplainer = {
    explain: async () => { throw new Error('disk full'); },
    remember: async () => { throw new Error('disk full'); },
  };
  const [r] = await new Solver<number>({ cache: new MemoryCache(), explainer }).solve([add(num(1), num(2))]);
  t.is(r.result, 3);
});

test('a vertex whose key cannot be computed fails the solve and cancels running work', async (t) => {
  const slow = add(num(1), num(2), { delayMs: 5000, name: 'slow' });
  const broken: Vertex<number> = { name: 'broken', inputs: [], describe: async () => { await sleep(20); throw new Error('no such file'); }, exec: async () => 0 };
  const started = Date.now();
  const err = await t.throwsAsync(new Solver<number>({ jobs: 2 }).solve([slow, broken]));
  t.is((err as SolveError).vertex.name, 'broken');
  t.true(Date.now() - started < 4000, 'slow vertex was not cancelled');
});
