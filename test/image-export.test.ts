import test from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { digestOf } from '../cache/digest.js';
import { exportDockerArchive } from '../builder/image/export-docker.js';
import { exportOciDir, exportOciTar } from '../builder/image/export-oci.js';
import { TarArchive } from '../builder/image/archive-reader.js';
import { MediaType } from '../builder/image/types.js';
import { fixture } from './image-helpers.js';
import { needsRoot, runIf, toolMissing } from './helpers/skip.js';

const run = promisify(execFile);

async function skopeo(...args: string[]): Promise<string> {
  // --insecure-policy: the test machine may have no /etc/containers/policy.json.
  return (await run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 << 20, encoding: 'latin1' })).stdout;
}

runIf(toolMissing('skopeo'), test)('OCI tar: skopeo sees the layers, config and name', async (t) => {
  const { root, store, image } = await fixture();
  const file = path.join(root, 'oci.tar');
  const [exported] = await exportOciTar(store, { manifestDigest: image.manifestDigest, names: ['app:v1'] }, file);
  t.is(exported!.configDigest, image.configDigest);
  const info = JSON.parse(await skopeo('inspect', `oci-archive:${file}`));
  t.is(info.Digest, exported!.manifestDigest);
  t.deepEqual(info.Layers, exported!.image.layers.map((l) => l.digest));
  t.true(exported!.image.layers.every((l) => l.mediaType === MediaType.ociLayerGzip));
  t.is(info.Architecture, 'amd64');
  t.deepEqual(info.Labels, { 'org.example': 'yes' });
  const rawConfig = await skopeo('inspect', '--config', '--raw', `oci-archive:${file}:v1`);
  t.is(digestOf(Buffer.from(rawConfig, 'latin1')), image.configDigest);
});

runIf(toolMissing('skopeo'), test)('docker archive: skopeo reads it and it also carries the OCI layout', async (t) => {
  const { root, store, image } = await fixture();
  for (const compression of ['gzip', 'uncompressed'] as const) {
    const file = path.join(root, `docker-${compression}.tar`);
    const [exported] = await exportDockerArchive(store, { manifestDigest: image.manifestDigest, names: ['app:v1', 'localhost:5000/app:v2'] }, file, {
      compression,
    });
    const info = JSON.parse(await skopeo('inspect', `docker-archive:${file}`));
    t.deepEqual(info.RepoTags ?? [], []); // skopeo reports registry tags here, not archive ones
    t.deepEqual(info.Env, ['PATH=/usr/bin:/bin']);
    t.is(info.Layers.length, 2);
    const rawConfig = await skopeo('inspect', '--config', '--raw', `docker-archive:${file}`);
    t.is(digestOf(Buffer.from(rawConfig, 'latin1')), image.configDigest);
    // The same tar read as an OCI archive.
    const oci = JSON.parse(await skopeo('inspect', `oci-archive:${file}:v1`));
    t.is(oci.Digest, exported!.manifestDigest);

    const archive = await TarArchive.open(file);
    const manifest = JSON.parse((await archive.readBuffer('manifest.json')).toString());
    t.deepEqual(manifest, [
      {
        Config: `blobs/sha256/${image.configDigest.slice(7)}`,
        RepoTags: ['app:v1', 'localhost:5000/app:v2'],
        Layers: exported!.image.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]);
    if (compression === 'uncompressed') t.deepEqual(exported!.image.layers.map((l) => l.digest), image.layers.map((l) => l.diffId));
    t.true(archive.has('oci-layout') && archive.has('index.json') && archive.has('repositories'));
  }
});

runIf(toolMissing('umoci') ?? needsRoot('umoci unpack without --rootless needs root'), test)('OCI directory: umoci unpacks it and the files are there', async (t) => {
  const { root, store, image } = await fixture();
  const dir = path.join(root, 'layout');
  await exportOciDir(store, { manifestDigest: image.manifestDigest, names: ['app:v1'] }, dir, { compressionLevel: 1 });
  // A second export into the same layout adds a name instead of replacing the index.
  await exportOciDir(store, { manifestDigest: image.manifestDigest, names: ['app:v2'] }, dir, { compression: 'uncompressed' });
  const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8'));
  t.deepEqual(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']), ['v1', 'v2']);
  const bundle = path.join(root, 'bundle');
  await run('umoci', ['unpack', '--image', `${dir}:v1`, bundle]);
  t.is(await fs.readFile(path.join(bundle, 'rootfs/etc/hello.txt'), 'utf8'), 'hello from layer one\n');
  t.is(await fs.readlink(path.join(bundle, 'rootfs/app/link')), 'run.sh');
  t.is((await fs.stat(path.join(bundle, 'rootfs/app/run.sh'))).mode & 0o777, 0o755);
  const runtime = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8'));
  t.deepEqual(runtime.process.args, ['/app/run.sh']);
  t.is(runtime.process.cwd, '/app');
});

test('exports are byte-for-byte reproducible and reuse compressed layers', async (t) => {
  const { root, store, images, image } = await fixture();
  const a = path.join(root, 'a.tar');
  const b = path.join(root, 'b.tar');
  const opts = { memoDir: images.layerMemoDir };
  await exportDockerArchive(store, { manifestDigest: image.manifestDigest, names: ['app'] }, a, opts);
  const memo = await fs.readdir(images.layerMemoDir);
  t.is(memo.length, 2);
  await exportDockerArchive(store, { manifestDigest: image.manifestDigest, names: ['app'] }, b, opts);
  t.deepEqual(await fs.readFile(a), await fs.readFile(b));
  // Different level, different blobs (and a distinct memo entry).
  const [fast] = await exportOciTar(store, { manifestDigest: image.manifestDigest }, path.join(root, 'c.tar'), { ...opts, compressionLevel: 1 });
  t.is((await fs.readdir(images.layerMemoDir)).length, 4);
  t.is(fast!.configDigest, image.configDigest);
});

test('an uncompressed export of a locally built image keeps its manifest digest', async (t) => {
  const { root, store, image } = await fixture();
  const [exported] = await exportOciTar(store, { manifestDigest: image.manifestDigest }, path.join(root, 'u.tar'), { compression: 'uncompressed' });
  t.is(exported!.manifestDigest, image.manifestDigest);
});

test('bad export options are user errors', async (t) => {
  const { root, store, image } = await fixture();
  const dest = path.join(root, 'x.tar');
  await t.throwsAsync(exportOciTar(store, { manifestDigest: image.manifestDigest }, dest, { compressionLevel: 12 }), { code: 'INVALID_EXPORT_OPTION' } as never);
  await t.throwsAsync(exportOciTar(store, { manifestDigest: image.manifestDigest }, dest, { compression: 'brotli' as never }), { code: 'INVALID_EXPORT_OPTION' } as never);
  await t.throwsAsync(exportOciTar(store, { manifestDigest: image.manifestDigest, names: ['Bad Name'] }, dest), { code: 'INVALID_REFERENCE' } as never);
  await t.throwsAsync(fs.access(dest));
});

// Exported archives keep the exact bytes they had when tar-stream wrote
// them, so their digests never change: tar-stream packs the same entries
// here as the oracle (short and prefix-split names, a streamed multi-MB file).
test('exporter tars are byte-identical to what tar-stream wrote for the same entries', async (t) => {
  const tarStream = (await import('tar-stream')).default;
  const { Readable, PassThrough } = await import('node:stream');
  const { writeTar } = await import('../builder/image/archive-writer.js');
  const big = Buffer.alloc((3 << 20) + 17, 7);
  const deep = 'x/'.repeat(60) + 'deep';
  const mtime = 1_700_000_000;
  const ours = await new Promise<Buffer>((resolve, reject) => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
    writeTar(out, [
      { name: 'manifest.json', data: Buffer.from('{"a":1}') },
      { name: `blobs/sha256/${'a'.repeat(64)}`, data: Buffer.alloc(1000, 1) },
      { name: deep, data: Buffer.from('deep') },
      { name: 'big', size: big.length, open: () => Readable.from([big.subarray(0, 100_000), big.subarray(100_000)]) },
      { name: 'empty', data: Buffer.alloc(0) },
    ], { mtime }).catch(reject);
  });
  const pack = tarStream.pack();
  const base = { mtime: new Date(mtime * 1000), uid: 0, gid: 0, uname: '', gname: '' };
  const dir = (name: string) => pack.entry({ ...base, name, type: 'directory', mode: 0o755 });
  const file = (name: string, data: Buffer) => pack.entry({ ...base, name, type: 'file', mode: 0o644, size: data.length }, data);
  file('big', big);
  dir('blobs/');
  dir('blobs/sha256/');
  file(`blobs/sha256/${'a'.repeat(64)}`, Buffer.alloc(1000, 1));
  file('empty', Buffer.alloc(0));
  file('manifest.json', Buffer.from('{"a":1}'));
  for (let i = 1; i <= 60; i++) dir('x/'.repeat(i));
  file(deep, Buffer.from('deep'));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const oracle = Buffer.concat(chunks);
  t.is(ours.length, oracle.length);
  t.true(ours.equals(oracle));
});
