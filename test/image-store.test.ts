import test from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { acquireLock, withLock, OWNERLESS_STALE_MS } from '../builder/image/lock.js';
import { ImageStore, recordShardPath } from '../builder/image/store.js';
import { buildImage } from '../builder/image/image.js';
import { fixture, tempDir, uncompressedLayer } from './image-helpers.js';
import type { Digest } from '../cache/digest.js';
import type { ContentStore } from '../cache/content-store.js';

const run = promisify(execFile);
const distDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** A one-layer image holding file `name` (its content, its history step: the name too). */
function oneFileImage(store: ContentStore, name: string): ReturnType<typeof buildImage> {
  return uncompressedLayer(store, [{ name, content: name }]).then((layer) => buildImage(store, {
    containerConfig: {},
    layers: [layer],
    history: [{ created_by: name }],
    created: '2025-01-01T00:00:00Z',
  }));
}

test('tag, resolve by name, id, short id and digest', async (t) => {
  const { images, image } = await fixture();
  t.is(await images.tag('app', image.manifestDigest), 'docker.io/library/app:latest');
  await images.tag('localhost:5000/app:v2', image.manifestDigest);
  for (const q of ['app', 'app:latest', 'docker.io/library/app', image.configDigest, image.configDigest.slice(7), image.configDigest.slice(7, 19),
    `sha256:${image.configDigest.slice(7, 15)}`, image.manifestDigest, `app@${image.manifestDigest}`, 'localhost:5000/app:v2']) {
    const r = await images.resolve(q);
    t.is(r.manifestDigest, image.manifestDigest, q);
    t.is(r.id, image.configDigest, q);
  }
  t.deepEqual((await images.resolve('app')).tags, ['docker.io/library/app:latest', 'localhost:5000/app:v2']);
  await t.throwsAsync(images.resolve('nope'), { code: 'IMAGE_NOT_FOUND' } as never);
  await t.throwsAsync(images.resolve('Nope'), { code: 'INVALID_REFERENCE' } as never);
});

test('a version of the index another writer renamed in is what the next read answers, not the one parsed before', async (t) => {
  const { images, image } = await fixture();
  await images.tag('app:v1', image.manifestDigest);
  t.is((await images.resolve('app:v1')).manifestDigest, image.manifestDigest);
  // Another process's version: same size, written beside it and renamed in (as update() does).
  const indexPath = path.join(images.dir, 'index.json');
  const text = await fs.readFile(indexPath, 'utf8');
  const moved = text.replace('docker.io/library/app:v1', 'docker.io/library/app:v2');
  t.is(moved.length, text.length);
  await fs.writeFile(`${indexPath}.other`, moved);
  await fs.rename(`${indexPath}.other`, indexPath);
  t.deepEqual((await images.resolve('app:v2')).tags, ['docker.io/library/app:v2']);
  await t.throwsAsync(images.resolve('app:v1'), { code: 'IMAGE_NOT_FOUND' } as never);
  // A change of this process's reads the other version too, and keeps its name.
  await images.tag('app:v3', image.manifestDigest);
  t.deepEqual((await images.resolve('app:v3')).tags, ['docker.io/library/app:v2', 'docker.io/library/app:v3']);
  t.deepEqual((await new ImageStore(path.dirname(images.dir), images.content).resolve('app:v3')).tags, ['docker.io/library/app:v2', 'docker.io/library/app:v3']);
});

test('list shows familiar names and untagged images; re-tag moves the name', async (t) => {
  const { store, images, image } = await fixture();
  const other = await oneFileImage(store, 'x');
  await images.tag('app:v1', image.manifestDigest);
  await images.add(other.manifestDigest);
  let rows = await images.list();
  t.deepEqual(rows.map((r) => [r.repository, r.tag, r.id]), [
    ['<none>', '<none>', other.configDigest],
    ['app', 'v1', image.configDigest],
  ]);
  t.is(rows[1]!.size, image.layers[0]!.size + image.layers[1]!.size);
  t.is(rows[1]!.created, '2024-01-01T00:00:00Z');
  await images.tag('app:v1', other.manifestDigest);
  rows = await images.list();
  t.is(rows.find((r) => r.tag === 'v1')!.id, other.configDigest);
  t.is((await images.resolve('app:v1')).id, other.configDigest);
});

test('untag and rmi semantics', async (t) => {
  const { images, image } = await fixture();
  await images.tag('a:1', image.manifestDigest);
  await images.tag('a:2', image.manifestDigest);
  await images.tag('b:1', image.manifestDigest);
  t.true(await images.untag('a:2'));
  t.false(await images.untag('a:2'));
  // Several repositories share the id: refused without force.
  await t.throwsAsync(images.remove(image.configDigest.slice(7, 19)), { code: 'IMAGE_IN_USE' } as never);
  let r = await images.remove('a:1');
  t.deepEqual(r, { untagged: ['docker.io/library/a:1'], deleted: [] });
  r = await images.remove('b:1');
  t.deepEqual(r, { untagged: ['docker.io/library/b:1'], deleted: [image.manifestDigest] });
  t.deepEqual(await images.list(), []);
  await images.tag('c:1', image.manifestDigest);
  await images.tag('d:1', image.manifestDigest);
  r = await images.remove(image.configDigest, { force: true });
  t.deepEqual(r.untagged.sort(), ['docker.io/library/c:1', 'docker.io/library/d:1']);
  t.deepEqual(r.deleted, [image.manifestDigest]);
  await t.throwsAsync(images.remove('c:1'), { code: 'IMAGE_NOT_FOUND' } as never);
});

test('tagging with a digest-only reference is refused', async (t) => {
  const { images, image } = await fixture();
  await t.throwsAsync(images.tag(`app@${image.manifestDigest}`, image.manifestDigest), { code: 'INVALID_REFERENCE' } as never);
});

test('two processes tagging at once lose no tag', async (t) => {
  const { root, images, image } = await fixture();
  const script = path.join(root, 'tagger.mjs');
  await fs.writeFile(
    script,
    `import { ContentStore } from ${JSON.stringify(path.join(distDir, 'cache/content-store.js'))};
import { ImageStore } from ${JSON.stringify(path.join(distDir, 'builder/image/store.js'))};
const [root, prefix, digest, n] = process.argv.slice(2);
const images = new ImageStore(root, new ContentStore(root + '/content'));
for (let i = 0; i < Number(n); i++) await images.tag(prefix + ':' + i, digest);
`,
  );
  const n = 40;
  await Promise.all(['one', 'two', 'three'].map((p) => run(process.execPath, [script, root, p, image.manifestDigest, String(n)])));
  const rows = await new ImageStore(root, images.content).list();
  t.is(rows.length, 3 * n);
  for (const p of ['one', 'two', 'three']) t.is(rows.filter((r) => r.repository === p).length, n);
});

test('a lock left by a dead process is broken; a live one is waited for', async (t) => {
  const dir = await tempDir();
  const lock = path.join(dir, 'x.lock');
  // pid 2^22+1 is above Linux's pid_max ceiling, so it cannot be alive.
  await fs.writeFile(lock, JSON.stringify({ pid: 4194305, token: 'dead' }));
  t.is(await withLock(lock, async () => 'got it', { timeoutMs: 2000 }), 'got it');
  await t.throwsAsync(fs.access(lock));

  const release = await acquireLock(lock);
  await t.throwsAsync(acquireLock(lock, { timeoutMs: 100 }), { code: 'LOCK_TIMEOUT' } as never);
  const order: string[] = [];
  const waiter = withLock(lock, async () => order.push('waiter'));
  await new Promise((r) => setTimeout(r, 50));
  order.push('holder');
  await release();
  await waiter;
  t.deepEqual(order, ['holder', 'waiter']);
});

test('a lock that names no owner (its maker killed before it wrote one) is waited for while new and broken once older than the margin', async (t) => {
  const dir = await tempDir();
  const lock = path.join(dir, 'x.lock');
  await fs.writeFile(lock, '');
  await t.throwsAsync(acquireLock(lock, { timeoutMs: 100 }), { code: 'LOCK_TIMEOUT' } as never);
  const old = new Date(Date.now() - OWNERLESS_STALE_MS - 1000);
  await fs.utimes(lock, old, old);
  t.is(await withLock(lock, async () => 'got it', { timeoutMs: 2000 }), 'got it');
  await t.throwsAsync(fs.access(lock));
});

test('re-tagging an image where it already is takes no lock and writes nothing; a real change still waits for the lock', async (t) => {
  const { images, image } = await fixture();
  await images.tag('app:v1', image.manifestDigest);
  const indexFile = path.join(images.dir, 'index.json');
  const before = await fs.stat(indexFile);
  // Another process holds the index lock (this one: alive).
  const release = await acquireLock(path.join(images.dir, 'index.json.lock'));
  try {
    t.is(await images.tag('app:v1', image.manifestDigest), 'docker.io/library/app:v1');
    t.is((await images.add(image.manifestDigest)).manifestDigest, image.manifestDigest);
    t.is((await fs.stat(indexFile)).mtimeMs, before.mtimeMs);
    let moved = false;
    const retag = images.tag('app:v2', image.manifestDigest).then(() => { moved = true; });
    await new Promise((r) => setTimeout(r, 100));
    t.false(moved, 'a new name waits for the lock');
    await release();
    await retag;
  } finally {
    await release().catch(() => undefined);
  }
  t.is((await images.resolve('app:v2'))?.manifestDigest, image.manifestDigest);
});

test('tagging or adding an image the index already has reads none of its blobs; a new one is read once', async (t) => {
  const { store, images, image } = await fixture();
  const reads: string[] = [];
  const readBuffer = store.readBuffer.bind(store);
  store.readBuffer = (d) => {
    reads.push(d);
    return readBuffer(d);
  };
  await images.tag('app:v1', image.manifestDigest);
  t.deepEqual(reads, [image.manifestDigest, image.configDigest], 'a new image: its manifest and config, once');
  reads.length = 0;
  await images.tag('app:v2', image.manifestDigest);
  await images.add(image.manifestDigest);
  t.deepEqual(reads, []);
});

test('every change of the index or a record is written, and a change that changes nothing writes nothing', async (t) => {
  const { root, store, images, image } = await fixture();
  const indexFile = path.join(images.dir, 'index.json');
  const shardFile = recordShardPath(images.dir, image.manifestDigest);
  // Both are replaced by rename on every write: a new inode.
  const inode = async (file: string) => (await fs.stat(file).catch(() => undefined))?.ino;
  const fresh = () => new ImageStore(root, store);
  const writes = async (what: string, change: () => Promise<unknown>, index: boolean, shard = false) => {
    const before = [await inode(indexFile), await inode(shardFile)];
    await change();
    t.is((await inode(indexFile)) !== before[0], index, `${what} ${index ? 'writes' : 'does not write'} the index`);
    t.is((await inode(shardFile)) !== before[1], shard, `${what} ${shard ? 'writes' : 'does not write'} the record's shard`);
  };
  const id = image.configDigest;
  const pushed = `sha256:${'1'.repeat(64)}` as Digest;
  const repushed = `sha256:${'2'.repeat(64)}` as Digest;
  await writes('adding a new image', () => images.add(image.manifestDigest), false, true);
  await writes('adding a known image', () => images.add(image.manifestDigest), false);
  await writes('a new tag', () => images.tag('app:v1', image.manifestDigest), true);
  await writes('the same tag again', () => images.tag('app:v1', image.manifestDigest), false);
  await writes('a repo digest', () => images.recordRepoDigest(id, 'docker.io/library/app', pushed), true);
  await writes('the same repo digest again', () => images.recordRepoDigest(id, 'docker.io/library/app', pushed), false);
  t.deepEqual((await fresh().resolve('app:v1')).repoDigests, [`docker.io/library/app@${pushed}`]);
  await writes('another digest for that repository', () => images.recordRepoDigest(id, 'docker.io/library/app', repushed), true);
  t.deepEqual((await fresh().resolve('app:v1')).repoDigests, [`docker.io/library/app@${repushed}`]);
  await writes('untagging a name that is not there', () => images.untag('app:nope'), false);
  await writes('a second tag', () => images.tag('app:v2', image.manifestDigest), true);
  await writes('untagging it', () => images.untag('app:v2'), true);
  t.is(await fresh().tryResolve('app:v2'), undefined);
  await writes('removing the image', () => images.remove('app:v1'), true, true);
  t.deepEqual(await fresh().records(), []);
});

test('the index holds names only: a build\'s new image adds its record to one shard, and neither grows with the images the store keeps', async (t) => {
  const { root, store, images, image } = await fixture();
  await images.tag('app:v1', image.manifestDigest);
  const indexFile = path.join(images.dir, 'index.json');
  const sizeWithOne = (await fs.stat(indexFile)).size;
  // 300 rebuilds, each moving the tag to its new image; the one it replaced stays, untagged.
  const digests: Digest[] = [image.manifestDigest];
  for (let i = 0; i < 300; i++) {
    const next = await buildImage(store, {
      containerConfig: {},
      layers: [await uncompressedLayer(store, [{ name: 'f', content: `rebuild ${i}` }])],
      history: [{ created_by: `rebuild ${i}` }],
      created: '2025-01-01T00:00:00Z',
    });
    await images.tag('app:v1', next.manifestDigest);
    digests.push(next.manifestDigest);
  }
  const index = JSON.parse(await fs.readFile(indexFile, 'utf8'));
  t.is(index.version, 2);
  t.is(index.images, undefined);
  t.is((await fs.stat(indexFile)).size, sizeWithOne, 'the same names, the same index');
  const shards = await fs.readdir(path.join(images.dir, 'records'));
  t.true(shards.every((n) => /^[0-9a-f]{2}\.json$/.test(n)));
  const biggest = Math.max(...await Promise.all(shards.map(async (n) => (await fs.stat(path.join(images.dir, 'records', n))).size)));
  t.true(biggest < 2048, `a shard holds a few records (${biggest} bytes)`);
  // Every image is still there for `images`, an id and the collector, in a store opened afresh.
  const again = new ImageStore(root, store);
  t.is((await again.records()).length, 301);
  t.is((await again.list()).filter((r) => r.repository === '<none>').length, 300);
  t.is((await again.resolve('app:v1')).manifestDigest, digests[300]);
  t.is((await again.resolve(image.configDigest.slice(7, 19))).manifestDigest, image.manifestDigest);
  t.is((await again.get(digests[150]!))?.manifestDigest, digests[150]);
});

test('a version-1 index (every record in it) is read as it is, and its first change moves the records into shards', async (t) => {
  const { root, store, images, image } = await fixture();
  const other = await oneFileImage(store, 'x');
  const record = (id: string) => ({ id, created: '2025-01-01T00:00:00Z', size: 1, added: '2025-01-02T00:00:00.000Z' });
  const indexFile = path.join(images.dir, 'index.json');
  await fs.mkdir(images.dir, { recursive: true });
  await fs.writeFile(indexFile, JSON.stringify({
    version: 1,
    images: { [image.manifestDigest]: record(image.configDigest), [other.manifestDigest]: record(other.configDigest) },
    tags: { 'docker.io/library/app:v1': image.manifestDigest },
  }, null, 1));
  const before = new ImageStore(root, store);
  t.is((await before.resolve('app:v1')).id, image.configDigest);
  t.is((await before.resolve(other.configDigest)).manifestDigest, other.manifestDigest);
  t.deepEqual((await before.list()).map((r) => `${r.repository}:${r.tag}`).sort(), ['<none>:<none>', 'app:v1']);
  t.truthy(await before.recordVersion(other.manifestDigest));
  // A change (a tag) under the lock: the records move, the names stay.
  await before.tag('app:v2', other.manifestDigest);
  const index = JSON.parse(await fs.readFile(indexFile, 'utf8'));
  t.is(index.version, 2);
  t.is(index.images, undefined);
  t.deepEqual(index.tags, { 'docker.io/library/app:v1': image.manifestDigest, 'docker.io/library/app:v2': other.manifestDigest });
  const after = new ImageStore(root, store);
  t.deepEqual((await after.records()).map((r) => r.manifestDigest).sort(), [image.manifestDigest, other.manifestDigest].sort());
  t.is((await after.get(image.manifestDigest))?.added, '2025-01-02T00:00:00.000Z');
  t.is((await after.recordVersion(image.manifestDigest))?.path, recordShardPath(images.dir, image.manifestDigest));
});

test('an index a newer tsbuild wrote is refused with a one-line reason, nothing changed', async (t) => {
  const { images, image } = await fixture();
  await images.tag('app:v1', image.manifestDigest);
  const indexFile = path.join(images.dir, 'index.json');
  const text = (await fs.readFile(indexFile, 'utf8')).replace('"version": 2', '"version": 3');
  await fs.writeFile(indexFile, text);
  const err = await t.throwsAsync(new ImageStore(path.dirname(images.dir), images.content).tag('app:v2', image.manifestDigest));
  t.is((err as { code?: string }).code, 'UNSUPPORTED_INDEX_VERSION');
  t.regex(err!.message, /is version 3, written by a newer tsbuild/);
  t.is(await fs.readFile(indexFile, 'utf8'), text);
});

test('forget drops images and every name on them in one change, one result per image in the order given', async (t) => {
  const { root, store, images, image } = await fixture();
  const other = await oneFileImage(store, 'y');
  await images.tag('app:v1', image.manifestDigest);
  await images.tag('app:v2', image.manifestDigest);
  await images.add(other.manifestDigest);
  await images.tag('keep:me', other.manifestDigest);
  await images.untag('keep:me');
  const gone = `sha256:${'9'.repeat(64)}` as Digest;
  const results = await images.forget([other.manifestDigest, gone, image.manifestDigest]);
  t.deepEqual(results, [
    { untagged: [], deleted: [other.manifestDigest] },
    { untagged: ['docker.io/library/app:v1', 'docker.io/library/app:v2'], deleted: [image.manifestDigest] },
  ]);
  const fresh = new ImageStore(root, store);
  t.deepEqual(await fresh.records(), []);
  t.deepEqual(await fresh.list(), []);
  t.deepEqual(await images.forget([image.manifestDigest]), []);
});
