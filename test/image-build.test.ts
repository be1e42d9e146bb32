import test from 'ava';
import { chmod, writeFile } from 'node:fs/promises';
import { digestOf } from '../cache/digest.js';
import { buildImage, readImage } from '../builder/image/image.js';
import { historyOf, humanSize, imageHistory, inspectImage } from '../builder/image/inspect.js';
import { validateImage } from '../builder/image/validate.js';
import { MediaType } from '../builder/image/types.js';
import { fixture, uncompressedLayer } from './image-helpers.js';

test('buildImage writes config and manifest that read back identically', async (t) => {
  const { store, image } = await fixture();
  const back = await readImage(store, image.manifestDigest);
  t.deepEqual(back.config, image.config);
  t.deepEqual(back.layers, image.layers);
  t.is(back.configDigest, digestOf(await store.readBuffer(image.configDigest)));
  t.is(back.manifest.mediaType, MediaType.ociManifest);
  t.is(back.manifest.config.mediaType, MediaType.ociConfig);
  t.deepEqual(back.config.rootfs.diff_ids, image.layers.map((l) => l.diffId));
  t.is(back.config.history!.length, 3);
  t.is(back.config.architecture, 'amd64');
});

test('buildImage is deterministic for the same input', async (t) => {
  const a = await fixture();
  const b = await fixture();
  t.is(a.image.manifestDigest, b.image.manifestDigest);
  t.is(a.image.configDigest, b.image.configDigest);
});

test('buildImage stacks base layers and history under the new ones', async (t) => {
  const { store, image } = await fixture();
  const extra = await uncompressedLayer(store, [{ name: 'extra.txt', content: 'x' }]);
  const child = await buildImage(store, {
    base: { config: image.config, layers: image.layers },
    containerConfig: { ...image.config.config, User: 'nobody' },
    layers: [extra],
    history: [{ created_by: 'RUN touch extra.txt' }],
  });
  t.is(child.layers.length, 3);
  t.is(child.config.history!.length, 4);
  t.is(child.config.architecture, 'amd64'); // from the base, not the host
  t.true((await validateImage(store, child.manifestDigest)).valid);
});

test('buildImage refuses history that disagrees with the layers', async (t) => {
  const { store, image } = await fixture();
  await t.throwsAsync(buildImage(store, { containerConfig: {}, layers: image.layers, history: [{ created_by: 'one' }] }), {
    message: /non-empty history/,
  });
});

test('validateImage passes a good image', async (t) => {
  const { store, image } = await fixture();
  t.deepEqual(await validateImage(store, image.manifestDigest), { valid: true, problems: [] });
});

test('validateImage reports a tampered layer blob', async (t) => {
  const { store, image } = await fixture();
  const file = store.path(image.layers[1]!.digest);
  await chmod(file, 0o644);
  await writeFile(file, 'not the layer');
  const report = await validateImage(store, image.manifestDigest);
  t.false(report.valid);
  t.true(report.problems.some((p) => p.includes('layer 1') && p.includes('content digest')), report.problems.join('\n'));
});

test('validateImage reports a config whose diff_ids lie', async (t) => {
  const { store, image } = await fixture();
  // A well-formed image whose config claims other uncompressed content than the layer holds.
  const liar = await buildImage(store, {
    containerConfig: {},
    layers: [{ ...image.layers[0]!, diffId: image.layers[1]!.diffId }],
    history: [{ created_by: 'x' }],
  });
  const report = await validateImage(store, liar.manifestDigest);
  t.false(report.valid);
  t.true(report.problems.some((p) => p.includes('uncompressed digest')), report.problems.join('\n'));
});

test('validateImage takes the diff id and entries of a layer already read whole from `known`', async (t) => {
  const { store, image } = await fixture();
  const [bottom] = image.layers;
  const good = new Map([[bottom!.digest, { diffId: bottom!.diffId, entries: [{ name: 'a.txt', type: 'file' as const, linkname: '' }] }]]);
  t.deepEqual(await validateImage(store, image.manifestDigest, good), { valid: true, problems: [] });

  const lying = new Map([[bottom!.digest, { diffId: image.layers[1]!.diffId, entries: [] }]]);
  const report = await validateImage(store, image.manifestDigest, lying);
  t.true(report.problems.some((p) => p.includes('layer 0') && p.includes('uncompressed digest')), report.problems.join('\n'));

  // Its entries join the whole-image check: a file below a symlink is refused.
  const below = new Map([[bottom!.digest, { diffId: bottom!.diffId, entries: [
    { name: 'l', type: 'symlink' as const, linkname: '/etc' }, { name: 'l/passwd', type: 'file' as const, linkname: '' }] }]]);
  const stack = await validateImage(store, image.manifestDigest, below);
  t.false(stack.valid);
  t.true(stack.problems.some((p) => p.includes('l/passwd')), stack.problems.join('\n'));
});

test('validateImage reports a tampered config and a missing manifest', async (t) => {
  const { store, image } = await fixture();
  const file = store.path(image.configDigest);
  await chmod(file, 0o644);
  await writeFile(file, '{"rootfs":{"type":"layers","diff_ids":[]}}');
  t.false((await validateImage(store, image.manifestDigest)).valid);
  const missing = digestOf('nothing');
  t.deepEqual((await validateImage(store, missing)).valid, false);
});

test('history rows: newest first, empty layers 0B, id on top', async (t) => {
  const { image } = await fixture();
  const rows = imageHistory(image);
  t.deepEqual(
    rows.map((r) => [r.createdBy, r.size, r.emptyLayer]),
    [
      ['COPY app /app', image.layers[1]!.size, false],
      ['ENV FOO=bar', 0, true],
      ['COPY etc /etc', image.layers[0]!.size, false],
    ],
  );
  t.is(rows[0]!.id, image.configDigest);
  t.is(rows[2]!.id, '<missing>');
  t.is(humanSize(rows[1]!.size), '0B');
});

test('humanSize follows Docker units', (t) => {
  t.is(humanSize(0), '0B');
  t.is(humanSize(999), '999B');
  t.is(humanSize(1200), '1.2kB');
  t.is(humanSize(4_260_000), '4.26MB');
  t.is(humanSize(12_345_678_901), '12.3GB');
});

test('inspect looks like docker inspect', async (t) => {
  const { store, images, image } = await fixture();
  await images.tag('app:v1', image.manifestDigest);
  const data = await inspectImage(store, images, 'app:v1');
  t.is(data.Id, image.configDigest);
  t.deepEqual(data.RepoTags, ['app:v1']);
  t.deepEqual(data.RepoDigests, [], 'an image never pushed or pulled has none, as in docker');
  t.is(data.Os, 'linux');
  t.is(data.Architecture, 'amd64');
  t.deepEqual(data.Config.Cmd, ['/app/run.sh']);
  t.deepEqual(data.RootFS, { Type: 'layers', Layers: image.config.rootfs.diff_ids });
  // Uncompressed file bytes, as docker counts them: 21 (hello.txt) + 19 (run.sh) + 6 (the link's target).
  t.is(data.Size, 21 + 19 + 6);
  t.is(data.Created, '2024-01-01T00:00:00Z');
  t.is(data.Comment, '');
  await images.recordRepoDigest(image.configDigest, 'localhost:5000/team/app', digestOf('pushed'));
  t.deepEqual((await inspectImage(store, images, 'app:v1')).RepoDigests, [`localhost:5000/team/app@${digestOf('pushed')}`]);
  const rows = await historyOf(store, images, 'app:v1');
  t.deepEqual(rows.map((r) => r.size), [25, 0, 21]);
});
