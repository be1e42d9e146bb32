// Push and pull against a real `docker-registry` on 127.0.0.1: round trips
// keep the image id and layers, skopeo reads what we push, we read what
// skopeo pushes, mounts and HEAD skip what the registry already has.

import test from 'ava';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest } from '../cache/digest.js';
import { openStore, type Store } from '../builder/store/open-store.js';
import { exportOciTar } from '../builder/image/export-oci.js';
import { readImage } from '../builder/image/image.js';
import { digestLayer } from '../builder/image/layer-digest.js';
import { layerCompressionOf } from '../builder/image/types.js';
import { pullImage, pushImage, resolveRemote, type TransferEvent } from '../builder/registry/index.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { haveSkopeo, registrySkipReason, skopeo, startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { runIf } from './helpers/skip.js';

const skip = registrySkipReason();
let registry: RegistryServer;
let tmp: string;
let source: Store;
let sourceId: Digest;
const settings = { insecure: [], mirrors: {} };

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-test-'));
  // Never read or write the credentials of whoever runs the tests.
  process.env.DOCKER_CONFIG = path.join(tmp, 'docker-config');
  if (skip) return;
  registry = await startRegistry();
  sourceId = (await loadBusyboxImage('busybox:latest', path.join(tmp, 'source'))) as Digest;
  source = await openStore(path.join(tmp, 'source'));
});

test.after.always(async () => {
  await registry?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function emptyStore(name: string): Promise<Store> {
  return openStore(path.join(tmp, name));
}

/** diff_ids recomputed from the stored layer blobs, so a test compares contents, not claims. */
async function layerDiffIds(store: Store, manifestDigest: Parameters<typeof readImage>[1]): Promise<string[]> {
  const image = await readImage(store.content, manifestDigest);
  return Promise.all(image.layers.map(async (l) => (await digestLayer(store.content.openRead(l.digest), layerCompressionOf(l.mediaType)!)).diffId));
}

runIf(skip, test.serial)('push then pull into an empty store keeps the image id and the layers', async (t) => {
  const events: TransferEvent[] = [];
  const pushed = await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/x:v1`, { settings, onProgress: (e) => events.push(e) });
  t.is(pushed.ref, `${registry.host}/x:v1`);
  t.true(events.some((e) => e.kind === 'layer' && e.phase === 'done'));

  const dest = await emptyStore('dest');
  const pulled = await pullImage(dest.content, dest.images, `${registry.host}/x:v1`, { settings });
  t.is(pulled.manifestDigest, pushed.digest);
  t.is(pulled.configDigest, sourceId);
  t.is(pulled.ref, `${registry.host}/x:v1`);
  const resolved = await dest.images.resolve(`${registry.host}/x:v1`);
  t.is(resolved.id, sourceId);

  const local = await source.images.resolve('busybox:latest');
  const wanted = (await readImage(source.content, local.manifestDigest)).config.rootfs.diff_ids;
  const got = await readImage(dest.content, pulled.manifestDigest);
  t.deepEqual(got.config.rootfs.diff_ids, wanted);
  t.deepEqual(await layerDiffIds(dest, pulled.manifestDigest), wanted);
  t.true(got.layers.every((l) => l.mediaType.endsWith('gzip')), 'pushed layers are gzip');

  // A second pull finds every blob already there.
  const again: TransferEvent[] = [];
  await pullImage(dest.content, dest.images, `${registry.host}/x:v1`, { settings, onProgress: (e) => again.push(e) });
  t.true(again.filter((e) => e.kind !== 'manifest').every((e) => e.phase === 'exists'));
});

runIf(skip || !haveSkopeo() ? `${skip ?? 'skopeo not installed'}` : undefined, test.serial)('skopeo inspects what we pushed', async (t) => {
  const pushed = await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/inspected:v2`, { settings });
  const info = JSON.parse(skopeo('inspect', '--tls-verify=false', `docker://${registry.host}/inspected:v2`)) as { Digest: string; Layers: string[] };
  t.is(info.Digest, pushed.digest);
  const config = JSON.parse(skopeo('inspect', '--config', '--tls-verify=false', `docker://${registry.host}/inspected:v2`)) as { rootfs: { diff_ids: string[] } };
  const local = await readImage(source.content, (await source.images.resolve('busybox:latest')).manifestDigest);
  t.deepEqual(config.rootfs.diff_ids, local.config.rootfs.diff_ids);
});

runIf(skip || !haveSkopeo() ? `${skip ?? 'skopeo not installed'}` : undefined, test.serial)('an image skopeo pushed from an OCI archive pulls back with the same id', async (t) => {
  const local = await source.images.resolve('busybox:latest');
  const archive = path.join(tmp, 'busybox-oci.tar');
  await exportOciTar(source.content, { manifestDigest: local.manifestDigest, names: ['busybox:latest'] }, archive);
  skopeo('copy', '--dest-tls-verify=false', `oci-archive:${archive}`, `docker://${registry.host}/from-skopeo:v1`);
  const dest = await emptyStore('from-skopeo');
  const pulled = await pullImage(dest.content, dest.images, `${registry.host}/from-skopeo:v1`, { settings });
  t.is(pulled.configDigest, local.id);
  t.deepEqual(await layerDiffIds(dest, pulled.manifestDigest), (await readImage(source.content, local.manifestDigest)).config.rootfs.diff_ids);
});

runIf(skip, test.serial)('chunked uploads (PATCH with Content-Range) give the same image', async (t) => {
  // Forget where the blobs went, so the registry cannot just mount them from the repositories above.
  await fs.rm(path.join(source.images.dir, 'blob-sources'), { recursive: true, force: true });
  const events: TransferEvent[] = [];
  const pushed = await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/chunked:v1`, { settings, chunkSize: 100_000, onProgress: (e) => events.push(e) });
  const layer = events.filter((e) => e.kind === 'layer');
  t.true(layer.filter((e) => e.phase === 'uploading').length > 2, 'several chunks');
  t.true(layer.some((e) => e.phase === 'done'));
  const dest = await emptyStore('chunked');
  const pulled = await pullImage(dest.content, dest.images, `${registry.host}/chunked:v1`, { settings });
  t.is(pulled.manifestDigest, pushed.digest);
  t.is(pulled.configDigest, sourceId);
});

runIf(skip, test.serial)('a second repository mounts the blobs; pushing again finds them there', async (t) => {
  await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/mount-a:v1`, { settings });
  const events: TransferEvent[] = [];
  await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/mount-b:v1`, { settings, onProgress: (e) => events.push(e) });
  const layers = events.filter((e) => e.kind === 'layer' && e.phase !== 'uploading');
  t.true(layers.length > 0 && layers.every((e) => e.phase === 'mounted'), JSON.stringify(layers));
  const again: TransferEvent[] = [];
  await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/mount-b:v2`, { settings, onProgress: (e) => again.push(e) });
  t.true(again.filter((e) => e.kind !== 'manifest').every((e) => e.phase === 'exists'));
});

runIf(skip, test.serial)('concurrent pulls of one image in one process download each blob once', async (t) => {
  await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/concurrent:v1`, { settings });
  const dest = await emptyStore('concurrent');
  const events: TransferEvent[] = [];
  const onProgress = (e: TransferEvent) => events.push(e);
  const [a, b] = await Promise.all([
    pullImage(dest.content, dest.images, `${registry.host}/concurrent:v1`, { settings, onProgress }),
    pullImage(dest.content, dest.images, `${registry.host}/concurrent:v1`, { settings, onProgress }),
  ]);
  t.is(a.manifestDigest, b.manifestDigest);
  const done = events.filter((e) => e.kind === 'layer' && e.phase === 'done');
  t.is(done.length, new Set(done.map((e) => e.digest)).size, 'each layer downloaded once');
});

runIf(skip, test.serial)('resolveRemote gives the config without downloading layers', async (t) => {
  const pushed = await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/resolve:v1`, { settings });
  const remote = await resolveRemote(`${registry.host}/resolve:v1`, undefined, { settings });
  t.is(remote.manifestDigest, pushed.digest);
  t.is(remote.configDigest, sourceId);
  t.deepEqual(remote.config.config?.Cmd, ['sh']);
});
