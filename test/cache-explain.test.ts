// Cache-miss explanations from records alone (no builds): file-level diffs
// of COPY selections, build args vs env, commands, mounts, inputs, and the
// explainer's identities and history on disk.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SelectionEntry } from '../builder/context/checksum.js';
import { diffSelections, explainMiss, type CurrentStep } from '../builder/pipeline/explain-diff.js';
import { ExplainHistory, type StepRecord } from '../builder/pipeline/explain-history.js';
import { BuildExplainer, SelectionRecorder } from '../builder/pipeline/explain.js';
import { MemoryContentHashCache } from '../builder/context/checksum.js';

const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-explain-test-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));

function file(p: string, digest: string, mode = '644'): SelectionEntry {
  return { path: p, type: 'file', mode, uid: 0, gid: 0, link: '', digest };
}

const none = async () => undefined;

test('selection diffs name changed, added, deleted and renamed files in path order', (t) => {
  const before = [file('a.ts', 'sha256:a'), file('b.ts', 'sha256:b'), file('c.ts', 'sha256:c'), file('d.ts', 'sha256:d')];
  const now = [file('a.ts', 'sha256:A'), file('b.ts', 'sha256:b', '755'), file('e.ts', 'sha256:c'), file('f.ts', 'sha256:f')];
  t.deepEqual(diffSelections(before, now), ['a.ts changed', 'b.ts mode changed (644 → 755)', 'c.ts renamed to e.ts', 'd.ts deleted', 'f.ts added']);
});

test('no record means no cache entry; the same key means the entry was pruned', async (t) => {
  const current: CurrentStep = { key: 'k1', description: { op: 'run' }, inputKeys: [] };
  t.is(await explainMiss(undefined, current, { visibleArgs: [] }, none, none), 'no cache entry');
  t.is(await explainMiss({ key: 'k1', description: {}, inputKeys: [] }, current, { visibleArgs: [] }, none, none), 'no cache entry (it was pruned)');
});

test('env changes are build args when the step can see the arg', async (t) => {
  const previous: StepRecord = { key: 'k0', description: { op: 'run', args: ['sh'], env: ['PATH=/bin', 'VERSION=1', 'MODE=a'] }, inputKeys: ['p'] };
  const current: CurrentStep = { key: 'k1', description: { op: 'run', args: ['sh'], env: ['PATH=/bin', 'VERSION=2', 'MODE=b'] }, inputKeys: ['p'] };
  t.is(await explainMiss(previous, current, { visibleArgs: ['VERSION'] }, none, none), 'build arg VERSION changed, env MODE changed');
});

test('a command change, then a parent change, then an extra input', async (t) => {
  const base: StepRecord = { key: 'k0', description: { op: 'run', args: ['sh', '-c', 'make'] }, inputKeys: ['p', 's'] };
  const cmd = { key: 'k1', description: { op: 'run', args: ['sh', '-c', 'make all'] }, inputKeys: ['p2', 's'] };
  t.is(await explainMiss(base, cmd, { visibleArgs: [] }, none, none), 'command changed');
  const parent = { key: 'k1', description: base.description, inputKeys: ['p2', 's'] };
  t.is(await explainMiss(base, parent, { visibleArgs: [] }, none, none), 'parent step changed');
  const source = { key: 'k1', description: base.description, inputKeys: ['p', 's2'] };
  t.is(await explainMiss(base, source, { visibleArgs: [], inputLabels: ['source stage changed'] }, none, none), 'source stage changed');
});

test('COPY content changes are named by file; many changes are counted', async (t) => {
  const old = [file('src/a.ts', 'sha256:1'), file('src/b.ts', 'sha256:2')];
  const now = [file('src/a.ts', 'sha256:9'), file('src/b.ts', 'sha256:8'), file('src/c.ts', 'sha256:7'), file('src/d.ts', 'sha256:6')];
  const previous: StepRecord = { key: 'k0', description: { op: 'copy', content: 'sha256:old' }, inputKeys: ['p'] };
  const current = { key: 'k1', description: { op: 'copy', content: 'sha256:new' }, inputKeys: ['p'] };
  const explanation = await explainMiss(previous, current, { visibleArgs: [] }, async () => old, async () => now);
  t.is(explanation, 'src/a.ts changed, src/b.ts changed, src/c.ts added and 1 more change');
  t.is(await explainMiss(previous, current, { visibleArgs: [] }, none, none), 'source files changed');
});

test('a bind mount whose context content changed names the file', async (t) => {
  const mount = (content: string) => [{ type: 'bind', target: '/src', content }];
  const previous: StepRecord = { key: 'k0', description: { op: 'run', mounts: mount('sha256:old') }, inputKeys: ['p'] };
  const current = { key: 'k1', description: { op: 'run', mounts: mount('sha256:new') }, inputKeys: ['p'] };
  const explanation = await explainMiss(previous, current, { visibleArgs: [] }, async () => [file('x', 'sha256:1')], async () => [file('x', 'sha256:2')]);
  t.is(explanation, 'bind mount: x changed');
});

test('the explainer remembers steps by identity and reads the file lists it saved', async (t) => {
  const history = new ExplainHistory(path.join(testRoot, 'explain'));
  const stage = { index: 0, name: 'build' } as never;
  const step = { kind: 'copy', add: false } as never;
  const vertex = { name: '[build 1/1] COPY . /app', inputs: [], describe: () => ({}), exec: async () => 0 };
  const firstBuild = new SelectionRecorder(new MemoryContentHashCache());
  firstBuild.noteSelection('sha256:' + 'a'.repeat(64), () => [file('main.ts', 'sha256:1')]);
  const opts = { history, dockerfilePath: '/p/Dockerfile', contextDir: '/p', noCache: false };
  const first = new BuildExplainer({ ...opts, selections: firstBuild }, [{ stage, step, vertex }]);
  const info1 = { key: 'k1', description: { op: 'copy', content: 'sha256:' + 'a'.repeat(64) }, inputKeys: ['p'], cacheable: true };
  t.is(await first.explain(vertex, info1), 'no cache entry');
  await first.remember(vertex, info1);

  const secondBuild = new SelectionRecorder(new MemoryContentHashCache());
  secondBuild.noteSelection('sha256:' + 'b'.repeat(64), () => [file('main.ts', 'sha256:2'), file('new.ts', 'sha256:3')]);
  // A new vertex object in a new build: the identity, not the object, connects them.
  const vertex2 = { ...vertex };
  const second = new BuildExplainer({ ...opts, selections: secondBuild }, [{ stage, step, vertex: vertex2 }]);
  const info2 = { key: 'k2', description: { op: 'copy', content: 'sha256:' + 'b'.repeat(64) }, inputKeys: ['p'], cacheable: true };
  t.is(await second.explain(vertex2, info2), 'main.ts changed, new.ts added');
  // Uncacheable without --no-cache: a --no-cache-filter named its stage.
  t.is(await second.explain(vertex2, { ...info2, cacheable: false }), '--no-cache-filter');
});

test('selections listing the same paths in the same order diff as they would in any order', (t) => {
  const before = Array.from({ length: 50 }, (_, i) => file(`src/f${String(i).padStart(2, '0')}.ts`, `sha256:${i}`));
  const now = before.map((e, i) => (i === 7 ? { ...e, digest: 'sha256:new' } : i === 30 ? { ...e, mode: '755' } : i === 41 ? { ...e, uid: 1000 } : e));
  const expected = ['src/f07.ts changed', 'src/f30.ts mode changed (644 → 755)', 'src/f41.ts owner changed'];
  t.deepEqual(diffSelections(before, now), expected);
  // Reversed: no position matches, so the paths are looked up by name.
  t.deepEqual(diffSelections([...before].reverse(), now), expected);
  t.deepEqual(diffSelections(before, before), []);
});
