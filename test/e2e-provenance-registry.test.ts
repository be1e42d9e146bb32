// End to end against Debian's docker-registry on loopback: `build --push
// --provenance` pushes the image manifest and its attestation manifest by
// digest and tags their index; the digest reported is the index's, and
// each manifest it names is served by digest.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { freshStore } from './helpers/cli.js';
import { registryStoreSuite } from './helpers/registry-store-suite.js';
import { haveSkopeo, skopeo } from './helpers/registry-server.js';
import { build, makeContext, ok, scratch } from './e2e-image-helpers.js';

const suite = registryStoreSuite('e2e provenance with a registry');
const { it } = suite;

const ACCEPT = ['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json'].join(', ');

async function get(repo: string, kind: 'manifests' | 'blobs', ref: string): Promise<{ status: number; digest: string; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`http://${suite.registry.host}/v2/${repo}/${kind}/${ref}`, { headers: { Accept: ACCEPT } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, json: res.ok ? JSON.parse(body.toString()) : undefined };
}

it('build --push --provenance=mode=max: the tag names an index; image and attestation manifests are served by digest', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'pushed\n' });
  const meta = path.join(await scratch(), 'meta.json');
  const ref = `${suite.registry.host}/prov/app:v1`;
  await build(suite.store.root, ctx, 'FROM busybox:latest\nCOPY f.txt /f.txt\n', ['--push', '--provenance=mode=max', '-t', ref, '--metadata-file', meta]);
  const m = JSON.parse(await readFile(meta, 'utf8'));

  const byTag = await get('prov/app', 'manifests', 'v1');
  t.is(byTag.status, 200);
  t.is(byTag.json.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.is(byTag.digest, m['containerimage.digest'], 'the reported digest is the index the tag names');
  const byDigest = await get('prov/app', 'manifests', m['containerimage.digest']);
  t.is(byDigest.status, 200);

  const [image, att] = byTag.json.manifests;
  const imageManifest = await get('prov/app', 'manifests', image.digest);
  t.is(imageManifest.status, 200);
  t.is(imageManifest.digest, image.digest);
  t.is(att.annotations['vnd.docker.reference.type'], 'attestation-manifest');
  t.is(att.annotations['vnd.docker.reference.digest'], image.digest);
  const attManifest = await get('prov/app', 'manifests', att.digest);
  t.is(attManifest.status, 200);
  t.is(attManifest.digest, att.digest);
  const layer = attManifest.json.layers[0];
  t.is(layer.mediaType, 'application/vnd.in-toto+json');
  const statement = await get('prov/app', 'blobs', layer.digest);
  t.is(statement.status, 200);
  t.is(statement.digest, layer.digest);
  t.deepEqual(statement.json.subject[0].digest, { sha256: image.digest.slice(7) });
  t.is(statement.json.predicate.buildType, 'https://mobyproject.org/buildkit@v1');
  t.is((await get('prov/app', 'blobs', attManifest.json.config.digest)).status, 200);

  const info = JSON.parse((await ok(['inspect', ref], { root: suite.store.root })).stdout)[0];
  t.deepEqual(info.RepoDigests, [`${suite.registry.host}/prov/app@${m['containerimage.digest']}`]);

  // An OCI client resolves the index to the image for this platform.
  if (haveSkopeo()) {
    const inspected = JSON.parse(skopeo('inspect', '--tls-verify=false', `docker://${ref}`));
    t.is(inspected.Digest, m['containerimage.digest']);
  }
  // And so does a pull by tsbuild into another store.
  const other = await freshStore();
  try {
    await ok(['pull', ref], { root: other.root });
    const pulled = JSON.parse((await ok(['inspect', ref], { root: other.root })).stdout)[0];
    t.is(pulled.Id, info.Id);
  } finally {
    await other.dispose();
  }
});
