import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { gzipFileToStore, gzipStoredLayer, writeLayerToStore } from '../cache/compress.js';
import { ContentStore } from '../cache/content-store.js';
import { digestOf } from '../cache/digest.js';
import { applyLayer } from '../cache/layer-unpack.js';
import { tarFromDir } from '../cache/layer-diff.js';

// Every temp dir of this file lives under one root, removed at the end.
const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-cache-test-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));

async function setup() {
  const dir = await fs.mkdtemp(path.join(testRoot, 'tsbuild-gz-'));
  const tree = path.join(dir, 'tree');
  await fs.mkdir(path.join(tree, 'sub'), { recursive: true });
  // Half random, half repetitive: compressible but not trivially.
  await fs.writeFile(path.join(tree, 'data'), Buffer.concat([randomBytes(300_000), Buffer.alloc(300_000, 'a')]));
  await fs.writeFile(path.join(tree, 'sub/text'), 'hello\n'.repeat(1000));
  return { store: new ContentStore(path.join(dir, 'store')), tree, dir };
}

test('writeLayerToStore stores the gzip blob and reports both digests', async (t) => {
  const { store, tree } = await setup();
  const layer = await writeLayerToStore(store, (out) => tarFromDir(tree, out, { sourceDateEpoch: 0 }));
  const blob = await store.readBuffer(layer.digest);
  t.is(layer.digest, digestOf(blob));
  t.is(layer.size, blob.length);
  const tar = gunzipSync(blob);
  t.is(layer.diffId, digestOf(tar));
  t.is(layer.uncompressedSize, tar.length);
  t.true(layer.size < layer.uncompressedSize);
  const unpacked = await applyLayer(store.openRead(layer.digest), path.join(await fs.mkdtemp(path.join(testRoot, 'tsbuild-gz-dst-')), 'x'));
  t.is(unpacked.diffId, layer.diffId);
  t.deepEqual(await fs.readdir(store.tempDir()), []);
});

test('uncompressed layers have digest == diffId', async (t) => {
  const { store, tree } = await setup();
  const layer = await writeLayerToStore(store, (out) => tarFromDir(tree, out), { compress: false });
  t.is(layer.digest, layer.diffId);
  t.is(layer.compression, 'none');
});

test('the same tar gives the same blob; the level matters', async (t) => {
  const { store, tree } = await setup();
  const raw = await writeLayerToStore(store, (out) => tarFromDir(tree, out), { compress: false });
  // Several at once: each runs on its own threadpool thread.
  const [a, b, fast] = await Promise.all([
    gzipStoredLayer(store, raw.digest, { level: 9 }),
    gzipStoredLayer(store, raw.digest, { level: 9 }),
    gzipStoredLayer(store, raw.digest, { level: 1 }),
  ]);
  t.is(a.digest, b.digest);
  t.not(a.digest, fast.digest);
  for (const l of [a, fast]) {
    t.is(l.diffId, raw.digest);
    t.is(digestOf(gunzipSync(await store.readBuffer(l.digest))), raw.digest);
  }
});

test('gzipFileToStore computes the diffId of the file', async (t) => {
  const { store, tree, dir } = await setup();
  const file = path.join(dir, 'layer.tar');
  const { createWriteStream } = await import('node:fs');
  const made = await tarFromDir(tree, createWriteStream(file));
  const layer = await gzipFileToStore(file, store);
  t.is(layer.diffId, made.diffId);
  t.is(layer.uncompressedSize, made.size);
});

test('a failing producer leaves no blob and no temp file', async (t) => {
  const { store, tree } = await setup();
  await fs.rm(path.join(tree, 'sub'), { recursive: true });
  await t.throwsAsync(writeLayerToStore(store, (out) => tarFromDir(path.join(tree, 'missing'), out)));
  const blobs = [];
  for await (const d of store.list()) blobs.push(d);
  t.deepEqual(blobs, []);
  t.deepEqual(await fs.readdir(store.tempDir()).catch(() => []), []);
});
