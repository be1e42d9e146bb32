// ImportedCache, the solver's cache during --cache-from builds: the local
// index first, imported records next, layers fetched only on demand and
// once, layers the store already has never fetched.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CacheBlobRef, CacheConfig } from '../cache/cache-manifest.js';
import { ContentStore } from '../cache/content-store.js';
import { digestOf, type Digest } from '../cache/digest.js';
import { ImportedCache } from '../builder/cache-io/imported-cache.js';
import type { CacheReader } from '../builder/cache-io/transport.js';
import type { StepResult } from '../builder/store/step-result.js';

const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function setup(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-imported-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const content = new ContentStore(path.join(dir, 'content'));
  // Blob bytes the fake remote serves, by digest.
  const remoteBytes = new Map<string, Buffer>();
  const blob = (text: string): CacheBlobRef => {
    const bytes = Buffer.from(text);
    const digest = digestOf(bytes);
    remoteBytes.set(digest, bytes);
    return { digest, size: bytes.length, mediaType: GZ };
  };
  const fetched: string[] = [];
  const reader: CacheReader = {
    label: 'fake',
    load: async () => undefined,
    fetch: async (store, b) => {
      fetched.push(b.digest);
      await new Promise((r) => setTimeout(r, 10));
      await store.putBuffer(remoteBytes.get(b.digest)!, b.digest);
    },
  };
  return { content, blob, reader, fetched };
}

function memoryIndex() {
  const map = new Map<string, StepResult>();
  return { map, get: async (k: string) => map.get(k), put: async (k: string, r: StepResult) => void map.set(k, r) };
}

test('imported hits fetch nothing; layers come down once, on demand; local layers are preferred', async (t) => {
  const { content, blob, reader, fetched } = await setup(t);
  const base = digestOf('base-diff');
  const l1 = digestOf('l1-diff');
  const l2 = digestOf('l2-diff');
  const config: CacheConfig = {
    schema: 1,
    records: [
      { key: digestOf('k1'), layers: [base, l1], stepAdded: [true] },
      { key: digestOf('k2'), layers: [base, l1, l2], stepAdded: [true, true] },
    ],
    layers: { [base]: blob('base-gz'), [l1]: { ...blob('l1-gz'), created: '2025-01-01T00:00:00.000Z' }, [l2]: blob('l2-gz') },
    mounts: [],
  };
  const imported = new ImportedCache(content);
  imported.add({ manifest: undefined as never, config }, reader);
  const local = memoryIndex();
  const cache = imported.resultCache(local);

  // The base image's layer is local (the solver put the image source's result).
  const localBase = { diffId: base, blob: await content.putBuffer('local base blob'), size: 15, mediaType: 'application/vnd.oci.image.layer.v1.tar' };
  await cache.put(digestOf('image'), { layers: [localBase], stepAdded: [] });

  const k2 = await cache.get(digestOf('k2'));
  t.truthy(k2);
  t.deepEqual(fetched, [], 'a cache hit downloads nothing');
  t.is(k2!.layers[0]!.blob, localBase.blob, 'the local copy of the base layer is used');
  t.is(k2!.layers[1]!.created, '2025-01-01T00:00:00.000Z', 'the exporting build\'s layer time travels');
  t.is(await cache.get(digestOf('unknown')), undefined);

  // Two consumers of one layer at once: one download.
  await Promise.all([imported.fetchMissing(k2!.layers[1]!), imported.fetchMissing(k2!.layers[1]!), imported.fetchMissing(k2!.layers[0]!)]);
  t.deepEqual(fetched, [config.layers[l1]!.digest]);
  t.true(await content.has(config.layers[l1]!.digest as Digest));

  // k1's layers are all local now, k2's top layer is not: only k1 joins the local index.
  await cache.get(digestOf('k1'));
  t.is(await imported.keepLocal(local), 1);
  t.true(local.map.has(digestOf('k1')));
  t.false(local.map.has(digestOf('k2')));

  // A blob nobody has is a clear error.
  await t.throwsAsync(imported.fetchMissing({ diffId: digestOf('x'), blob: digestOf('nowhere'), size: 1, mediaType: GZ }), { message: /neither in the local store nor in an imported cache/ });
});

test('the local index wins over an imported record with the same key', async (t) => {
  const { content, blob, reader } = await setup(t);
  const l = digestOf('l');
  const imported = new ImportedCache(content);
  imported.add({ manifest: undefined as never, config: { schema: 1, records: [{ key: digestOf('k'), layers: [l], stepAdded: [true] }], layers: { [l]: blob('remote') }, mounts: [] } }, reader);
  const local = memoryIndex();
  const mine: StepResult = { layers: [], stepAdded: [false] };
  local.map.set(digestOf('k'), mine);
  t.is(await imported.resultCache(local).get(digestOf('k')), mine);
});
