// Which builds count as following from the store alone (pipeline/store-only.ts):
// the server's result memo records only those.
import test from 'ava';
import { StoreOnlyTracker } from '../builder/pipeline/store-only.js';
import type { BuildGraph, CopyStep } from '../frontend/graph/types.js';

const KEY = `sha256:${'a'.repeat(64)}`;

function graphWith(sources: string[]): BuildGraph {
  const copy = { kind: 'copy', add: true, sources } as unknown as CopyStep;
  const stage = { index: 0, steps: [copy] };
  return { stages: [stage], target: stage } as unknown as BuildGraph;
}

async function tracked(hit: boolean): Promise<StoreOnlyTracker> {
  const tracker = new StoreOnlyTracker();
  const cache = tracker.wrap<object>({ get: async () => (hit ? {} : undefined), put: async () => undefined });
  await cache.get(KEY);
  if (!hit) await cache.put(KEY, {});
  return tracker;
}

test('every step from the local index and only context sources: the keys read', async (t) => {
  t.deepEqual((await tracked(true)).keysIfStoreOnly(graphWith(['app.txt']), []), [KEY]);
});

test('a step that ran, or one that started, is not store-only', async (t) => {
  t.is((await tracked(false)).keysIfStoreOnly(graphWith(['app.txt']), []), undefined);
  const started = await tracked(true);
  started.onEvent({ type: 'start', vertex: {} as never, key: KEY });
  t.is(started.keysIfStoreOnly(graphWith(['app.txt']), []), undefined);
});

test('an ADD of a URL or a git repository, or a remote --build-context, is checked against its server every build', async (t) => {
  const tracker = await tracked(true);
  t.is(tracker.keysIfStoreOnly(graphWith(['https://example.com/file.tgz']), []), undefined);
  t.is(tracker.keysIfStoreOnly(graphWith(['git@github.com:o/r.git']), []), undefined);
  t.is(tracker.keysIfStoreOnly(graphWith(['app.txt']), [{ value: 'docker-image://alpine' }]), undefined);
  t.deepEqual(tracker.keysIfStoreOnly(graphWith(['app.txt']), [{ value: '/srv/ctx/lib' }]), [KEY]);
});
