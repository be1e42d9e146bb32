// End to end: images exported by `tsbuild build -o ...` are accepted by tools
// that are not ours (skopeo, umoci), and their configs are self-consistent:
// diff_ids are the digests of the uncompressed layers, non-empty history
// entries match the layer count.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ContentStore } from '../cache/content-store.js';
import { storePaths } from '../builder/store/store-paths.js';
import { validateImage } from '../builder/image/validate.js';
import type { Digest } from '../cache/digest.js';
import { FIXTURES, storeSuite } from './helpers/cli.js';
import { ok, readOciTar, readTar, sha256, scratch } from './e2e-image-helpers.js';

const run = promisify(execFile);
const suite = storeSuite('e2e image tools');
const { skip, it } = suite;

async function has(tool: string): Promise<boolean> {
  try {
    await run(tool, ['--version']);
    return true;
  } catch {
    return false;
  }
}

let out: string;
let iid: string;
test.before(async () => {
  if (skip) return;
  await suite.ready();
  out = await scratch('tsbuild-tools-');
  await ok([
    'build', '--progress=plain', '-t', 'hello:v1', '--iidfile', path.join(out, 'iid'),
    '-o', 'type=image',
    '-o', `type=oci,dest=${path.join(out, 'oci.tar')}`,
    '-o', `type=docker,dest=${path.join(out, 'docker.tar')}`,
    '-o', `type=oci,dest=${path.join(out, 'ocidir')},tar=false`,
    path.join(FIXTURES, 'projects/hello'),
  ], { root: suite.store.root });
  iid = (await readFile(path.join(out, 'iid'), 'utf8')).trim();
});

it('skopeo inspects the OCI archive and the docker archive', async (t) => {
  if (!(await has('skopeo'))) return t.fail('skopeo is not installed (Debian package skopeo)');
  const oci = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${path.join(out, 'oci.tar')}`])).stdout);
  const docker = JSON.parse((await run('skopeo', ['inspect', `docker-archive:${path.join(out, 'docker.tar')}`])).stdout);
  const img = await readOciTar(path.join(out, 'oci.tar'));
  t.deepEqual(oci.Layers, img.manifest.layers.map((l) => l.digest));
  t.is(oci.Labels['org.opencontainers.image.title'], 'tsbuild hello');
  t.true(oci.Env.includes('GREETING=hello'));
  t.is(docker.Architecture, 'amd64');
  t.is(docker.Layers.length, img.layers.length);
  // docker-archive carries uncompressed layers: skopeo reports their diff_ids.
  t.deepEqual(docker.Layers, img.config.rootfs.diff_ids);
  const raw = JSON.parse((await run('skopeo', ['inspect', '--config', '--raw', `oci-archive:${path.join(out, 'oci.tar')}`])).stdout);
  t.is(sha256(Buffer.from(JSON.stringify(raw))), sha256(Buffer.from(JSON.stringify(img.config))));
  t.is(`sha256:${(iid.split(':')[1])}`, img.configDigest, 'the image id is the config digest');
});

it('the docker archive carries manifest.json with the tag, and the OCI layout beside it', async (t) => {
  const entries = await readTar(await readFile(path.join(out, 'docker.tar')));
  const byName = new Map(entries.map((e) => [e.name, e]));
  const manifest = JSON.parse(byName.get('manifest.json')!.data.toString());
  t.deepEqual(manifest[0].RepoTags, ['hello:v1']);
  t.is(manifest[0].Config, `blobs/sha256/${iid.split(':')[1]}`);
  for (const layer of manifest[0].Layers) t.true(byName.has(layer), layer);
  t.true(byName.has('oci-layout'));
  t.true(byName.has('index.json'));
});

it('umoci unpacks the OCI directory output into a runtime bundle with the image files', async (t) => {
  if (!(await has('umoci'))) return t.fail('umoci is not installed (Debian package umoci)');
  const index = JSON.parse(await readFile(path.join(out, 'ocidir/index.json'), 'utf8'));
  const ref = index.manifests[0].annotations['org.opencontainers.image.ref.name'];
  t.is(ref, 'v1');
  const bundle = path.join(await scratch('tsbuild-umoci-'), 'bundle');
  await run('umoci', ['unpack', '--image', `${path.join(out, 'ocidir')}:${ref}`, bundle]);
  t.is(await readFile(path.join(bundle, 'rootfs/app/built.txt'), 'utf8'), 'built for hello\n');
  const script = await readFile(path.join(FIXTURES, 'projects/hello/hello.sh'), 'utf8');
  t.is(await readFile(path.join(bundle, 'rootfs/app/hello.sh'), 'utf8'), script);
  const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8'));
  t.deepEqual(spec.process.args, ['/app/hello.sh']);
  t.is(spec.process.cwd, '/app');
});

it('diff_ids are the sha256 of each uncompressed layer; blobs match their digests; history matches layers', async (t) => {
  const img = await readOciTar(path.join(out, 'oci.tar'));
  t.is(img.config.rootfs.diff_ids.length, img.layers.length);
  img.layers.forEach((layer, i) => t.is(sha256(layer), img.config.rootfs.diff_ids[i], `layer ${i} diff_id`));
  img.layerBlobs.forEach((blob, i) => {
    t.is(sha256(blob), img.manifest.layers[i]!.digest, `layer ${i} digest`);
    t.is(blob.length, img.manifest.layers[i]!.size, `layer ${i} size`);
    t.is(img.manifest.layers[i]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  });
  t.is(sha256(img.files.get(`blobs/${img.configDigest.replace(':', '/')}`)!), img.configDigest);
  const nonEmpty = img.config.history!.filter((h) => !h.empty_layer);
  t.is(nonEmpty.length, img.layers.length);
  // And tsbuild's own validator agrees about the image in the store.
  const [info] = JSON.parse((await ok(['inspect', 'hello:v1'], { root: suite.store.root })).stdout);
  const report = await validateImage(new ContentStore(storePaths(suite.store.root).content), info.Metadata.ManifestDigest as Digest);
  t.deepEqual(report, { valid: true, problems: [] });
});

it('type=oci with compression=uncompressed writes plain tar layers whose digest is the diff_id', async (t) => {
  const dest = path.join(await scratch('tsbuild-out-'), 'plain.tar');
  await ok(['build', '-q', '-o', `type=oci,dest=${dest},compression=uncompressed`, path.join(FIXTURES, 'projects/hello')], { root: suite.store.root });
  const img = await readOciTar(dest);
  t.deepEqual(img.manifest.layers.map((l) => l.digest), img.config.rootfs.diff_ids);
  for (const l of img.manifest.layers) t.is(l.mediaType, 'application/vnd.oci.image.layer.v1.tar');
  const { stdout } = await run('skopeo', ['inspect', `oci-archive:${dest}`]);
  t.deepEqual(JSON.parse(stdout).Layers, img.config.rootfs.diff_ids);
});
