import test from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs, createReadStream } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ContentStore } from '../cache/content-store.js';
import { digestOf, type Digest } from '../cache/digest.js';
import { exportDockerArchive } from '../builder/image/export-docker.js';
import { exportOciTar } from '../builder/image/export-oci.js';
import { importRootfs } from '../builder/image/import-rootfs.js';
import { readImage } from '../builder/image/image.js';
import { loadArchive } from '../builder/image/load.js';
import { hostPlatform } from '../builder/image/platform.js';
import { ImageStore } from '../builder/image/store.js';
import { validateImage } from '../builder/image/validate.js';
import { fixture, makeTar, tempDir, type FileSpec } from './image-helpers.js';
import { runIf, toolMissing } from './helpers/skip.js';

const run = promisify(execFile);

async function emptyStores(): Promise<{ root: string; store: ContentStore; images: ImageStore }> {
  const root = await tempDir();
  const store = new ContentStore(path.join(root, 'content'));
  return { root, store, images: new ImageStore(root, store) };
}

async function writeArchive(dir: string, name: string, files: FileSpec[]): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, await makeTar(files));
  return file;
}

for (const kind of ['oci', 'docker'] as const) {
  test(`round trip through a ${kind} archive keeps the image`, async (t) => {
    const src = await fixture();
    const file = path.join(src.root, `${kind}.tar`);
    const exportFn = kind === 'oci' ? exportOciTar : exportDockerArchive;
    const [exported] = await exportFn(src.store, { manifestDigest: src.image.manifestDigest, names: ['app:v1'] }, file);
    const dst = await emptyStores();
    const [loaded] = await loadArchive(dst.store, dst.images, file);
    t.is(loaded!.configDigest, src.image.configDigest);
    t.is(loaded!.manifestDigest, exported!.manifestDigest);
    t.deepEqual(loaded!.names, ['docker.io/library/app:v1']);
    t.is((await dst.images.resolve('app:v1')).id, src.image.configDigest);
    t.deepEqual(await validateImage(dst.store, loaded!.manifestDigest), { valid: true, problems: [] });
  });
}

test('loads a gzip-compressed docker archive (docker save | gzip)', async (t) => {
  const src = await fixture();
  const plain = path.join(src.root, 'd.tar');
  await exportDockerArchive(src.store, { manifestDigest: src.image.manifestDigest, names: ['z:1'] }, plain);
  const gz = path.join(src.root, 'd.tar.gz');
  await fs.writeFile(gz, gzipSync(await fs.readFile(plain)));
  const dst = await emptyStores();
  const [loaded] = await loadArchive(dst.store, dst.images, gz);
  t.is(loaded!.configDigest, src.image.configDigest);
  t.deepEqual(await fs.readdir(dst.store.tempDir()), []); // the temp copy is gone
});

/** An old-style `docker save`: <id>/layer.tar, a duplicate layer as a relative symlink, config <hex>.json. */
async function legacyDockerArchive(dir: string, overrides: { config?: string; layers?: string[]; extra?: FileSpec[] } = {}): Promise<{ file: string; configDigest: Digest }> {
  const layer = await makeTar([{ name: 'hello.txt', content: 'hi\n' }]);
  const diffId = digestOf(layer);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: [diffId, diffId] },
    history: [{ created_by: 'ADD a' }, { created_by: 'ADD a again' }],
  });
  const configDigest = digestOf(config);
  const manifest = [
    {
      Config: overrides.config ?? `${configDigest.slice(7)}.json`,
      RepoTags: ['legacy:1'],
      Layers: overrides.layers ?? ['aaa/layer.tar', 'bbb/layer.tar'],
    },
  ];
  const file = await writeArchive(dir, 'legacy.tar', [
    { name: `${configDigest.slice(7)}.json`, content: config },
    { name: 'aaa/', type: 'directory' },
    { name: 'aaa/layer.tar', content: layer },
    { name: 'bbb/', type: 'directory' },
    { name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
    { name: 'manifest.json', content: JSON.stringify(manifest) },
    ...(overrides.extra ?? []),
  ]);
  return { file, configDigest };
}

test('loads a legacy docker save archive with a symlinked duplicate layer', async (t) => {
  const dst = await emptyStores();
  const { file, configDigest } = await legacyDockerArchive(dst.root);
  const [loaded] = await loadArchive(dst.store, dst.images, file);
  t.is(loaded!.configDigest, configDigest);
  const image = await readImage(dst.store, loaded!.manifestDigest);
  t.is(image.layers.length, 2);
  t.deepEqual(await validateImage(dst.store, loaded!.manifestDigest), { valid: true, problems: [] });
  t.is((await dst.images.resolve('legacy:1')).id, configDigest);
});

test('refuses hostile paths named by manifest.json', async (t) => {
  const dst = await emptyStores();
  const cases: Array<Parameters<typeof legacyDockerArchive>[1]> = [
    { config: '../../etc/passwd' },
    { config: '/etc/passwd' },
    { layers: ['aaa/layer.tar', 'aaa/../../../etc/shadow'] },
    { layers: ['aaa/layer.tar', 'evil/layer.tar'], extra: [{ name: 'evil/layer.tar', type: 'symlink', linkname: '/etc/passwd' }] },
    { layers: ['aaa/layer.tar', 'evil/layer.tar'], extra: [{ name: 'evil/layer.tar', type: 'symlink', linkname: '../../../etc/passwd' }] },
  ];
  for (const c of cases) {
    const { file } = await legacyDockerArchive(dst.root, c);
    await t.throwsAsync(loadArchive(dst.store, dst.images, file), { code: 'UNSAFE_ARCHIVE_PATH' } as never, JSON.stringify(c));
  }
  t.deepEqual(await dst.images.list(), []);
});

test('refuses archives whose content does not match their digests', async (t) => {
  const dst = await emptyStores();
  // Docker archive: config diff_ids name another layer.
  const other = await makeTar([{ name: 'other', content: 'x' }]);
  const { file } = await legacyDockerArchive(dst.root, { layers: ['aaa/layer.tar', 'ccc/layer.tar'], extra: [{ name: 'ccc/layer.tar', content: other }] });
  await t.throwsAsync(loadArchive(dst.store, dst.images, file), { code: 'DIGEST_MISMATCH' } as never);

  // OCI archive: a blob replaced under its name.
  const src = await fixture();
  const oci = path.join(src.root, 'oci.tar');
  const [exported] = await exportOciTar(src.store, { manifestDigest: src.image.manifestDigest, names: ['t:1'] }, oci, { compression: 'uncompressed' });
  const layerHex = exported!.image.layers[0]!.digest.slice(7);
  const files: FileSpec[] = [
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: exported!.manifestDigest, size: exported!.image.manifestSize }] }) },
  ];
  for (const d of [exported!.manifestDigest, exported!.configDigest, ...exported!.image.layers.map((l) => l.digest)]) {
    files.push({ name: `blobs/sha256/${d.slice(7)}`, content: d.slice(7) === layerHex ? other : await src.store.readBuffer(d) });
  }
  const tampered = await writeArchive(dst.root, 'tampered.tar', files);
  await t.throwsAsync(loadArchive(dst.store, dst.images, tampered), { code: 'DIGEST_MISMATCH' } as never);
});

test('loads the host platform from a nested multi-platform index (docker save of a multi-platform image)', async (t) => {
  const src = await fixture();
  const oci = path.join(src.root, 'oci.tar');
  const [exported] = await exportOciTar(src.store, { manifestDigest: src.image.manifestDigest }, oci);
  const manifestDescriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: exported!.manifestDigest, size: exported!.image.manifestSize };
  // Only the host platform's blobs are in the archive, as with `docker save` of a pulled multi-platform image.
  const nested = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...manifestDescriptor, digest: digestOf('elsewhere'), platform: { os: 'linux', architecture: 's390x' } },
      { ...manifestDescriptor, platform: hostPlatform() },
    ],
  });
  const nestedDigest = digestOf(nested);
  const files: FileSpec[] = [
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    {
      name: 'index.json',
      content: JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            digest: nestedDigest,
            size: nested.length,
            annotations: { 'io.containerd.image.name': 'docker.io/library/multi:1', 'org.opencontainers.image.ref.name': '1' },
          },
        ],
      }),
    },
    { name: `blobs/sha256/${nestedDigest.slice(7)}`, content: nested },
  ];
  for (const d of [exported!.manifestDigest, exported!.configDigest, ...exported!.image.layers.map((l) => l.digest)]) {
    files.push({ name: `blobs/sha256/${d.slice(7)}`, content: await src.store.readBuffer(d) });
  }
  const dst = await emptyStores();
  const file = await writeArchive(dst.root, 'multi.tar', files);
  const [loaded] = await loadArchive(dst.store, dst.images, file);
  t.is(loaded!.manifestDigest, exported!.manifestDigest);
  t.deepEqual(loaded!.names, ['docker.io/library/multi:1']);
  await t.throwsAsync(loadArchive(dst.store, dst.images, file, { platform: { os: 'linux', architecture: 's390x' } }), {
    code: 'INVALID_ARCHIVE',
  } as never);
  await t.throwsAsync(loadArchive(dst.store, dst.images, file, { platform: { os: 'linux', architecture: 'riscv64' } }), {
    code: 'IMAGE_NOT_FOUND',
  } as never);
});

test('refuses files that are not image archives', async (t) => {
  const dst = await emptyStores();
  const notTar = path.join(dst.root, 'x.tar');
  await fs.writeFile(notTar, 'hello world, not a tar'.repeat(40));
  await t.throwsAsync(loadArchive(dst.store, dst.images, notTar), { code: 'INVALID_ARCHIVE' } as never);
  const noManifest = await writeArchive(dst.root, 'y.tar', [{ name: 'hello', content: 'x' }]);
  await t.throwsAsync(loadArchive(dst.store, dst.images, noManifest), { code: 'INVALID_ARCHIVE' } as never);
});

runIf(toolMissing('skopeo'))('loads a docker archive written by skopeo', async (t) => {
  const src = await fixture();
  const oci = path.join(src.root, 'oci.tar');
  await exportOciTar(src.store, { manifestDigest: src.image.manifestDigest, names: ['app:v1'] }, oci);
  const theirs = path.join(src.root, 'skopeo-docker.tar');
  await run('skopeo', ['--insecure-policy', 'copy', `oci-archive:${oci}:v1`, `docker-archive:${theirs}:example.com/app:v9`]);
  const dst = await emptyStores();
  const [loaded] = await loadArchive(dst.store, dst.images, theirs);
  t.is(loaded!.configDigest, src.image.configDigest);
  t.deepEqual(loaded!.names, ['example.com/app:v9']);
  t.true((await validateImage(dst.store, loaded!.manifestDigest)).valid);
});

test('importRootfs makes a one-layer image with the host platform', async (t) => {
  const dst = await emptyStores();
  const rootfs = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', content: 'not really', mode: 0o755 }]);
  for (const [name, bytes] of [['rootfs.tar', rootfs], ['rootfs.tar.gz', gzipSync(rootfs)]] as const) {
    const file = path.join(dst.root, name);
    await fs.writeFile(file, bytes);
    const image = await importRootfs(dst.store, dst.images, file, 'imported:1', { config: { Cmd: ['/bin/sh'] } });
    t.deepEqual(image.config.rootfs.diff_ids, [digestOf(rootfs)]);
    t.is(image.config.os, hostPlatform().os);
    t.is(image.config.architecture, hostPlatform().architecture);
    t.deepEqual(image.config.config, { Cmd: ['/bin/sh'] });
    t.is(image.config.history![0]!.comment, `Imported from ${name}`);
    t.true((await validateImage(dst.store, image.manifestDigest)).valid);
    t.is((await dst.images.resolve('imported:1')).manifestDigest, image.manifestDigest);
  }
  // From a stream (stdin), untagged.
  const fromStream = await importRootfs(dst.store, dst.images, createReadStream(path.join(dst.root, 'rootfs.tar')));
  t.is(fromStream.config.history![0]!.comment, 'Imported from -');
  t.truthy(await dst.images.get(fromStream.manifestDigest));

  const junk = path.join(dst.root, 'junk.tar');
  await fs.writeFile(junk, 'definitely not a tar archive '.repeat(30));
  await t.throwsAsync(importRootfs(dst.store, dst.images, junk, 'junk:1'), { code: 'INVALID_ARCHIVE' } as never);
});
