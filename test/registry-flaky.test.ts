// Push and pull through a proxy that fails every 3rd request with a 500,
// hangs up on some uploads and cuts blob downloads in half: the retries,
// upload-session recovery and Range resumes must still end in the exact
// image.

import test from 'ava';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest } from '../cache/digest.js';
import { openStore, type Store } from '../builder/store/open-store.js';
import { readImage } from '../builder/image/image.js';
import { digestLayer } from '../builder/image/layer-digest.js';
import { layerCompressionOf } from '../builder/image/types.js';
import { pullImage, pushImage, type TransferEvent } from '../builder/registry/index.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { registrySkipReason, startProxy, startRegistry, type ProxyRequestInfo, type RegistryServer, type TestProxy } from './helpers/registry-server.js';
import { runIf } from './helpers/skip.js';

const skip = registrySkipReason();
let registry: RegistryServer;
let proxy: TestProxy;
let tmp: string;
let source: Store;
let sourceId: Digest;
const settings = { insecure: [], mirrors: {} };
const retry = { baseDelayMs: 5, maxDelayMs: 50, attempts: 8 };

const injected = { error500: 0, hangup: 0, truncated: 0, rangeRequests: 0 };
const truncatedUrls = new Set<string>();
let uploads = 0;

function isBlobGet(r: ProxyRequestInfo): boolean {
  return r.method === 'GET' && /\/blobs\/sha256:/.test(r.url);
}

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-flaky-'));
  process.env.DOCKER_CONFIG = path.join(tmp, 'docker-config');
  if (skip) return;
  registry = await startRegistry();
  proxy = await startProxy(registry.port, {
    onRequest(r) {
      if (r.headers.range) injected.rangeRequests++;
      if (r.n % 3 === 0) {
        injected.error500++;
        return 'error500';
      }
      if ((r.method === 'PUT' || r.method === 'PATCH') && ++uploads % 3 === 1) {
        injected.hangup++;
        return 'hangup';
      }
      return 'forward';
    },
    onResponse(r, _status, headers) {
      // Cut the first full download of each big blob (each test pulls into a fresh store).
      if (isBlobGet(r) && !r.headers.range && Number(headers['content-length']) > 1000 && !truncatedUrls.has(r.url)) {
        truncatedUrls.add(r.url);
        injected.truncated++;
        return 'truncate';
      }
      return 'pass';
    },
  });
  sourceId = (await loadBusyboxImage('busybox:latest', path.join(tmp, 'source'))) as Digest;
  source = await openStore(path.join(tmp, 'source'));
});

test.after.always(async () => {
  await proxy?.stop();
  await registry?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function diffIds(store: Store, manifestDigest: Digest): Promise<string[]> {
  const image = await readImage(store.content, manifestDigest);
  return Promise.all(image.layers.map(async (l) => (await digestLayer(store.content.openRead(l.digest), layerCompressionOf(l.mediaType)!)).diffId));
}

for (const mode of ['monolithic', 'chunked'] as const) {
  runIf(skip, test.serial)(`${mode} push and pull through a failing proxy give the exact image`, async (t) => {
    // Forget earlier pushes, or the registry would mount the blobs instead of receiving them.
    await fs.rm(path.join(source.images.dir, 'blob-sources'), { recursive: true, force: true });
    const before = { ...injected };
    const ref = `${proxy.host}/flaky-${mode}:v1`;
    const pushed = await pushImage(source.content, source.images, 'busybox:latest', ref, { settings, retry, ...(mode === 'chunked' ? { chunkSize: 64 * 1024 } : {}) });
    const dest = await openStore(path.join(tmp, `dest-${mode}`));
    const events: TransferEvent[] = [];
    const pulled = await pullImage(dest.content, dest.images, ref, { settings, retry, onProgress: (e) => events.push(e) });
    t.true(events.some((e) => e.phase === 'retrying'), 'retries are reported as progress');
    t.is(pulled.manifestDigest, pushed.digest);
    t.is(pulled.configDigest, sourceId);
    const local = await readImage(source.content, (await source.images.resolve('busybox:latest')).manifestDigest);
    t.deepEqual(await diffIds(dest, pulled.manifestDigest), local.config.rootfs.diff_ids);
    // The faults really happened, so the test could have failed.
    t.true(injected.error500 > before.error500, '500s injected');
    t.true(injected.hangup > before.hangup, 'upload hang-ups injected');
    t.true(injected.truncated > before.truncated, 'truncated downloads injected');
    t.true(injected.rangeRequests > before.rangeRequests, 'a download resumed with Range');
  });
}
