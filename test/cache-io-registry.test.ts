// --cache-to / --cache-from type=registry through a real docker-registry
// on 127.0.0.1. The second build is a fresh CI runner: an EMPTY store, the
// base image and the cache both come from the registry. It must run no
// RUN step and download only the layers the final image is made of; the
// blob GETs are counted by a proxy in front of the registry.
import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseCacheConfig, parseCacheManifest } from '../cache/cache-manifest.js';
import { buildSkipReason, freshStore, tsbuild } from './helpers/cli.js';
import { registrySkipReason, startProxy, startRegistry, type RegistryServer, type TestProxy } from './helpers/registry-server.js';
import { copyProject, stepOutcomes } from './cache-io-helpers.js';
import { removeTempDir } from './helpers/temp-dirs.js';
import { runIf } from './helpers/skip.js';

const skip = buildSkipReason() ?? registrySkipReason();
let registry: RegistryServer | undefined;
let proxy: TestProxy | undefined;
let tmp: string;
// Requests the proxy forwarded, while recording.
let requests: { method: string; url: string }[] = [];
let recording = false;

test.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-cacheio-reg-'));
  process.env.DOCKER_CONFIG = path.join(tmp, 'docker-config');
  if (skip) return;
  registry = await startRegistry();
  proxy = await startProxy(registry.port, {
    onRequest: (req) => {
      if (recording) requests.push({ method: req.method, url: req.url });
      return 'forward';
    },
  });
});

test.after.always(async () => {
  await proxy?.stop();
  await registry?.stop();
  // It holds store B, which a build may have left something mounted in.
  if (tmp) await removeTempDir(tmp);
});

const env = () => ({ DOCKER_CONFIG: path.join(tmp, 'docker-config') });

async function registryJson(p: string, accept?: string): Promise<Buffer> {
  const res = await fetch(`http://${registry!.host}/v2/${p}`, { headers: accept ? { Accept: accept } : {} });
  if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

runIf(skip, test.serial)('a fresh store builds from the registry cache: no RUN runs, only the final image layers are downloaded', async (t) => {
  const host = proxy!.host;
  // Machine A: has busybox, pushes it as the base everyone uses, builds and exports.
  const a = await freshStore();
  t.teardown(a.dispose);
  const pushed = await tsbuild(['push', 'busybox:latest', `${host}/base/busybox:1`], { root: a.root, env: env() });
  t.is(pushed.code, 0, pushed.stderr);
  const project = (edit: string) => copyProject('multistage', (d) => d.replaceAll('busybox:latest', `${host}/base/busybox:1`) + edit);
  const iidA = path.join(tmp, 'iid-a');
  const built = await tsbuild(['build', '--progress=plain', '--iidfile', iidA, '--cache-to', `type=registry,ref=${host}/app/cache:main,mode=max`, await project('')], { root: a.root, env: env() });
  t.is(built.code, 0, built.stderr);
  t.regex(built.stderr, /exporting cache to registry/);

  // What the cache holds, read straight from the registry.
  const manifest = parseCacheManifest(await registryJson('app/cache/manifests/main', 'application/vnd.oci.image.manifest.v1+json'), 'cache');
  const config = parseCacheConfig(await registryJson(`app/cache/blobs/${manifest.config.digest}`), 'cache');
  t.is(config.records.length, 7);

  // Machine B: nothing at all in its store.
  const b = await mkdtemp(path.join(tmp, 'store-b-'));
  const iidB = path.join(tmp, 'iid-b');
  requests = [];
  recording = true;
  const warm = await tsbuild(['build', '--progress=plain', '--iidfile', iidB, '--cache-from', `${host}/app/cache:main`, await project('')], { root: b, env: env() });
  recording = false;
  t.is(warm.code, 0, warm.stderr);
  const outcomes = stepOutcomes(warm.stderr);
  t.true(outcomes.size >= 7);
  // A FROM is the image pulled from the registry, not a result the cache carries.
  for (const [step, how] of outcomes) if (!/\] FROM /.test(step)) t.is(how, 'CACHED', `${step} ran on the fresh store`);
  t.is(await readFile(iidB, 'utf8'), await readFile(iidA, 'utf8'), 'the same image as machine A');

  // The final image's layers: its diff ids, from its config in store B.
  const image = await tsbuild(['inspect', '--format', '{{json .RootFS.Layers}}', await readFile(iidB, 'utf8')], { root: b, env: env() });
  t.is(image.code, 0, image.stderr);
  const finalDiffIds = new Set(JSON.parse(image.stdout) as string[]);
  const cacheBlobGets = requests.filter((r) => r.method === 'GET' && r.url.startsWith('/v2/app/cache/blobs/')).map((r) => r.url.split('/').pop()!);
  const finalBlobs = new Set(Object.entries(config.layers).filter(([diffId]) => finalDiffIds.has(diffId)).map(([, l]) => l.digest as string));
  const intermediate = Object.entries(config.layers).filter(([diffId]) => !finalDiffIds.has(diffId)).map(([, l]) => l.digest as string);
  t.true(intermediate.length >= 3, 'the build stages made layers of their own');
  for (const d of intermediate) t.false(cacheBlobGets.includes(d), `intermediate layer ${d} must not be downloaded`);
  // Everything fetched from the cache is its config or a final image layer, each once.
  t.deepEqual([...cacheBlobGets].sort(), [manifest.config.digest, ...[...finalBlobs].filter((d) => !requests.some((r) => r.url === `/v2/base/busybox/blobs/${d}`))].sort());
  t.is(new Set(cacheBlobGets).size, cacheBlobGets.length, 'no blob downloaded twice');
});

runIf(skip, test.serial)('a missing cache tag on a live registry is a warning, and an export there then creates it', async (t) => {
  const s = await freshStore();
  t.teardown(s.dispose);
  const dir = await mkdtemp(path.join(tmp, 'ctx-'));
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox:latest\nRUN echo hi > /hi\n');
  const ref = `${registry!.host}/other/cache:none`;
  const r = await tsbuild(['build', '--progress=plain', '--cache-from', `type=registry,ref=${ref}`, '--cache-to', `type=registry,ref=${ref},compression=uncompressed`, dir], { root: s.root, env: env() });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /no build cache found at/);
  const manifest = parseCacheManifest(await registryJson('other/cache/manifests/none', 'application/vnd.oci.image.manifest.v1+json'), 'cache');
  t.true(manifest.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar'));
});
