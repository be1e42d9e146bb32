// The exported cache's format (cache/cache-manifest.ts) and the
// --cache-to / --cache-from option parsing: pure, no builds.
import test from 'ava';
import {
  buildCacheManifest, encodeCacheConfig, parseCacheConfig, parseCacheManifest,
  CACHE_CONFIG_MEDIA_TYPE, CacheFormatError, type CacheConfig,
} from '../cache/cache-manifest.js';
import { digestOf, type Digest } from '../cache/digest.js';
import { parseCacheExport, parseCacheImport } from '../builder/cache-io/spec.js';
import { selectEntries, targetChainStages } from '../builder/cache-io/select.js';
import type { BuildGraph, StagePlan } from '../frontend/graph/types.js';

const d = (s: string) => digestOf(s) as Digest;

function sample(): CacheConfig {
  return {
    schema: 1,
    records: [
      { key: d('k2'), layers: [d('base'), d('l1')], stepAdded: [true] },
      { key: d('k1'), layers: [d('base')], stepAdded: [] },
    ],
    layers: {
      [d('l1')]: { digest: d('l1.gz'), size: 10, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', created: '2024-01-01T00:00:00.000Z' },
      [d('base')]: { digest: d('base.gz'), size: 20, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
    },
    mounts: [{ id: '/root/.cache', diffId: d('m'), digest: d('m.gz'), size: 5, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', mode: 0o755, uid: 0, gid: 0 }],
  };
}

test('a cache config survives encoding and parsing, and encodes deterministically', (t) => {
  const bytes = encodeCacheConfig(sample());
  const parsed = parseCacheConfig(bytes, 'test');
  t.deepEqual(parsed.records.map((r) => r.key).sort(), [d('k1'), d('k2')].sort());
  t.is(parsed.layers[d('l1')]!.created, '2024-01-01T00:00:00.000Z');
  t.is(parsed.mounts[0]!.id, '/root/.cache');
  // Records and layers in another order give the same bytes.
  const shuffled = sample();
  shuffled.records.reverse();
  t.deepEqual(encodeCacheConfig(shuffled), bytes);
  t.deepEqual(encodeCacheConfig(parsed), bytes);
});

test('the cache manifest names the config and every blob once', (t) => {
  const config = sample();
  const configBytes = encodeCacheConfig(config);
  const { manifest, bytes, digest } = buildCacheManifest(configBytes, config);
  t.is(digest, digestOf(bytes));
  t.is(manifest.config.mediaType, CACHE_CONFIG_MEDIA_TYPE);
  t.is(manifest.config.digest, digestOf(configBytes));
  t.deepEqual(manifest.layers.map((l) => l.digest).sort(), [d('l1.gz'), d('base.gz'), d('m.gz')].sort());
  const parsed = parseCacheManifest(bytes, 'test');
  t.is(parsed.layers.length, 3);
});

test('parsing refuses what is not a tsbuild cache of a known schema', (t) => {
  const bad = (json: unknown) => t.throws(() => parseCacheConfig(Buffer.from(JSON.stringify(json)), 'ref'), { instanceOf: CacheFormatError });
  bad({ ...sample(), schema: 2 });
  bad({ ...sample(), records: [{ key: d('k'), layers: [d('unknown')], stepAdded: [] }] });
  bad({ ...sample(), records: [{ key: 'not-a-digest', layers: [], stepAdded: [] }] });
  bad({ ...sample(), layers: { [d('l1')]: { digest: 'sha256:xyz', size: 1, mediaType: 'x' } } });
  bad({ ...sample(), mounts: [{ id: '', diffId: d('m'), digest: d('m'), size: 1, mediaType: 'x', mode: 0, uid: 0, gid: 0 }] });
  t.throws(() => parseCacheConfig(Buffer.from('{'), 'ref'), { instanceOf: CacheFormatError });
  const image = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('c'), size: 1 }, layers: [] };
  const err = t.throws(() => parseCacheManifest(Buffer.from(JSON.stringify(image)), 'reg/x:cache'), { instanceOf: CacheFormatError });
  t.regex(err!.message, /reg\/x:cache: not a tsbuild build cache/);
});

test('--cache-to and --cache-from specs: defaults, shorthand and mistakes', (t) => {
  const spec = (type: string, kv: Record<string, string>) => ({ type, attrs: new Map(Object.entries(kv)) });
  const reg = parseCacheExport(spec('registry', { ref: 'r.example/app:cache' }));
  t.deepEqual(reg, { location: { type: 'registry', ref: 'r.example/app:cache' }, mode: 'min', compression: 'gzip', mounts: false, ignoreError: false });
  const local = parseCacheExport(spec('local', { dest: '/tmp/c', mode: 'max', mounts: 'true', 'image-manifest': 'true' }));
  t.deepEqual(local.location, { type: 'local', dir: '/tmp/c', tag: 'latest' });
  t.is(local.mode, 'max');
  t.true(local.mounts);
  t.deepEqual(parseCacheImport(spec('local', { src: '/tmp/c', tag: 'v2' })), { location: { type: 'local', dir: '/tmp/c', tag: 'v2' }, mounts: true });
  t.throws(() => parseCacheExport(spec('registry', {})), { message: /needs ref=/ });
  t.throws(() => parseCacheExport(spec('local', { dest: '/x', mode: 'all' })), { message: /mode=all/ });
  t.throws(() => parseCacheExport(spec('gha', {})), { message: /type=gha is not supported/ });
  t.throws(() => parseCacheImport(spec('local', { dest: '/x' })), { message: /needs src=/ });
  t.throws(() => parseCacheExport(spec('local', { dest: '/x', bogus: '1' })), { message: /unknown option "bogus"/ });
});

test('mode=min exports the target chain of stages, mode=max every solved step', (t) => {
  const stage = (index: number, base: StagePlan['base']) => ({ index, base, steps: [] }) as unknown as StagePlan;
  const builder = stage(0, { type: 'scratch' });
  const dev = stage(1, { type: 'scratch' });
  const final = stage(2, { type: 'stage', index: 1 });
  const graph = { stages: [builder, dev, final], target: final } as unknown as BuildGraph;
  t.deepEqual([...targetChainStages(graph)].sort(), [1, 2]);
  const v = (name: string) => ({ name, inputs: [], describe: () => name, exec: async () => ({ layers: [], stepAdded: [] }) });
  const [vb, vd, vf, image] = [v('b'), v('d'), v('f'), v('image')];
  const steps = [{ stage: builder, vertex: vb }, { stage: dev, vertex: vd }, { stage: final, vertex: vf }];
  const solved = [vb, vd, vf, image].map((vertex) => ({ vertex, key: vertex.name, result: { layers: [], stepAdded: [] } }));
  t.deepEqual(selectEntries(graph, steps, solved, 'min').map((e) => e.key), ['d', 'f']);
  t.deepEqual(selectEntries(graph, steps, solved, 'max').map((e) => e.key), ['b', 'd', 'f']);
});
