// Multi-platform references: an index pushed to a real registry is
// narrowed to the requested platform by pull and resolveRemote, and a
// platform the index lacks is a one-line error listing what it has.

import test from 'ava';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../builder/store/open-store.js';
import { hostPlatform } from '../builder/image/platform.js';
import { MediaType, type ImageIndex } from '../builder/image/types.js';
import { pullImage, pushImage, resolveRemote, RegistryError } from '../builder/registry/index.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { registrySkipReason, startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { runIf } from './helpers/skip.js';

const skip = registrySkipReason();
let registry: RegistryServer;
let tmp: string;
let source: Store;
const settings = { insecure: [], mirrors: {} };

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-platform-'));
  process.env.DOCKER_CONFIG = path.join(tmp, 'docker');
  if (skip) return;
  registry = await startRegistry();
  await loadBusyboxImage('busybox:latest', path.join(tmp, 'source'));
  source = await openStore(path.join(tmp, 'source'));
});

test.after.always(async () => {
  await registry?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

runIf(skip, test.serial)('an index is narrowed to the requested platform', async (t) => {
  const host = hostPlatform();
  const hostImage = await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/multi:host`, { settings });
  // A second "platform" entry pointing at the same manifest: enough to see which one is chosen.
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      { mediaType: MediaType.ociManifest, digest: hostImage.digest, size: hostImage.size, platform: { os: 'linux', architecture: 'riscv64' } },
      { mediaType: MediaType.ociManifest, digest: hostImage.digest, size: hostImage.size, platform: { os: host.os, architecture: host.architecture } },
    ],
  };
  const res = await fetch(`http://${registry.host}/v2/multi/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': MediaType.ociIndex }, body: JSON.stringify(index) });
  t.is(res.status, 201, await res.text());

  const dest = await openStore(path.join(tmp, 'dest'));
  const pulled = await pullImage(dest.content, dest.images, `${registry.host}/multi:v1`, { settings, platform: host });
  t.is(pulled.manifestDigest, hostImage.digest, 'the tag names the single-platform manifest');
  t.is((await dest.images.resolve(`${registry.host}/multi:v1`)).manifestDigest, hostImage.digest);

  const riscv = await resolveRemote(`${registry.host}/multi:v1`, { os: 'linux', architecture: 'riscv64' }, { settings });
  t.is(riscv.manifestDigest, hostImage.digest);

  const err = await t.throwsAsync(pullImage(dest.content, dest.images, `${registry.host}/multi:v1`, { settings, platform: { os: 'linux', architecture: 's390x' } }), { instanceOf: RegistryError });
  t.is((err as RegistryError).code, 'NO_MATCHING_PLATFORM');
  t.is(err!.message, `${registry.host}/multi:v1 on ${registry.host} has no image for linux/s390x (available: linux/riscv64, ${host.os}/${host.architecture})`);
});

runIf(skip, test.serial)('pull by digest stores the image without a tag', async (t) => {
  const pushed = await pushImage(source.content, source.images, 'busybox:latest', `${registry.host}/bydigest:v1`, { settings });
  const dest = await openStore(path.join(tmp, 'digest-dest'));
  const pulled = await pullImage(dest.content, dest.images, `${registry.host}/bydigest@${pushed.digest}`, { settings });
  t.is(pulled.manifestDigest, pushed.digest);
  t.is(pulled.ref, `${registry.host}/bydigest@${pushed.digest}`);
  const record = await dest.images.get(pushed.digest);
  t.truthy(record);
  t.deepEqual((await dest.images.resolve(pushed.digest)).tags, []);
});
