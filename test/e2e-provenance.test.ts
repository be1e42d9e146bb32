// End to end: `--provenance` / `--attest type=provenance` attach an in-toto
// SLSA v0.2 statement as BuildKit does: the OCI and docker tars name an
// index holding the image manifest and an attestation manifest (platform
// unknown/unknown) whose layer is the statement about that manifest.
// Without the flag nothing changes; the local store keeps the plain image.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite, tsbuild } from './helpers/cli.js';
import { haveSkopeo } from './helpers/registry-server.js';
import { build, makeContext, ok, readTar, scratch, sha256 } from './e2e-image-helpers.js';

const suite = storeSuite('e2e provenance attestations');
const { it } = suite;
const root = () => suite.store.root;

interface Layout {
  index: { manifests: Array<{ mediaType: string; digest: string; annotations?: Record<string, string> }> };
  blob(d: string): Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  files: Map<string, Buffer>;
}

async function readLayout(file: string): Promise<Layout> {
  const files = new Map((await readTar(await readFile(file))).filter((e) => e.type === 'file').map((e) => [e.name, e.data]));
  const blob = (d: string) => {
    const b = files.get(`blobs/${d.replace(':', '/')}`);
    if (!b) throw new Error(`blob ${d} missing`);
    if (sha256(b) !== d) throw new Error(`blob ${d} has other bytes`);
    return JSON.parse(b.toString());
  };
  return { index: JSON.parse(files.get('index.json')!.toString()), blob, files };
}

/** index.json → image index → [image manifest, attestation manifest] → in-toto statement. */
function attestationOf(layout: Layout) {
  const top = layout.index.manifests[0]!;
  const index = layout.blob(top.digest);
  const [image, att] = index.manifests;
  const attManifest = layout.blob(att.digest);
  const statement = layout.blob(attManifest.layers[0].digest);
  return { top, index, image, att, attManifest, statement };
}

const DOCKERFILE = 'FROM busybox:latest AS base\nARG FOO\nRUN echo "$FOO" > /foo\nFROM base AS final\nCOPY f.txt /f.txt\n';
const COPY_FROM_SCRATCH = 'FROM scratch\nCOPY --from=busybox:latest /bin/busybox /busybox\n';

it('-o type=oci with --provenance=mode=max: an index with the image and its attestation manifest', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'hello\n' });
  const out = path.join(await scratch(), 'img.tar');
  await build(root(), ctx, DOCKERFILE, ['--provenance=mode=max', '--build-arg', 'FOO=bar', '--target', 'final', '-t', 'prov:max', '-o', `type=oci,dest=${out}`]);
  const layout = await readLayout(out);
  const { top, index, image, att, attManifest, statement } = attestationOf(layout);
  t.is(layout.index.manifests.length, 1);
  t.is(top.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.is(top.annotations?.['io.containerd.image.name'], 'docker.io/library/prov:max');
  t.is(index.manifests.length, 2);
  t.is(image.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  t.is(image.platform.os, 'linux');
  t.truthy(layout.blob(image.digest).config, 'the image manifest is in the layout');
  t.deepEqual(att.platform, { architecture: 'unknown', os: 'unknown' });
  t.is(att.annotations['vnd.docker.reference.type'], 'attestation-manifest');
  t.is(att.annotations['vnd.docker.reference.digest'], image.digest);
  t.is(attManifest.layers.length, 1);
  t.is(attManifest.layers[0].mediaType, 'application/vnd.in-toto+json');
  t.is(attManifest.layers[0].annotations['in-toto.io/predicate-type'], 'https://slsa.dev/provenance/v0.2');

  t.is(statement._type, 'https://in-toto.io/Statement/v0.1');
  t.is(statement.predicateType, 'https://slsa.dev/provenance/v0.2');
  t.deepEqual(statement.subject[0].digest, { sha256: image.digest.slice('sha256:'.length) });
  t.regex(statement.subject[0].name, /^pkg:docker\/prov@max\?platform=linux%2F/);
  const p = statement.predicate;
  t.is(p.buildType, 'https://mobyproject.org/buildkit@v1');
  t.is(p.invocation.configSource.entryPoint, 'Dockerfile');
  t.is(p.invocation.parameters.frontend, 'dockerfile.v0');
  t.is(p.invocation.parameters.args['build-arg:FOO'], 'bar');
  t.is(p.invocation.parameters.args.target, 'final');
  const busybox = p.materials.find((m: { uri: string }) => m.uri.startsWith('pkg:docker/busybox@latest'));
  t.truthy(busybox, JSON.stringify(p.materials));
  t.regex(busybox.digest.sha256, /^[0-9a-f]{64}$/);
  t.regex(p.metadata.buildInvocationID, /^[0-9a-z]+$/);
  t.true(Date.parse(p.metadata.buildStartedOn) <= Date.parse(p.metadata.buildFinishedOn));
  t.deepEqual(p.metadata.completeness, { parameters: true, environment: true, materials: false });
  t.false(p.metadata.reproducible);

  // OCI tools read it: skopeo serves the index as is.
  if (haveSkopeo()) {
    const raw = JSON.parse(execFileSync('skopeo', ['--insecure-policy', 'inspect', '--raw', `oci-archive:${out}`], { encoding: 'utf8' }));
    t.deepEqual(raw, index);
  }
});

it('materials list an image read only by COPY --from', async (t) => {
  const ctx = await makeContext({});
  const out = path.join(await scratch(), 'img.tar');
  await build(root(), ctx, COPY_FROM_SCRATCH, ['--provenance=true', '-o', `type=oci,dest=${out}`]);
  const { statement } = attestationOf(await readLayout(out));
  t.is(statement.subject[0].name, '_', 'an unnamed image, as BuildKit names it');
  const uris = statement.predicate.materials.map((m: { uri: string }) => m.uri);
  t.true(uris.some((u: string) => u.startsWith('pkg:docker/busybox@latest?platform=')), uris.join(' '));
});

it('--attest type=provenance (mode=min by default) leaves the build args out; type=docker carries the index too', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'hello\n' });
  const out = path.join(await scratch(), 'img.tar');
  await build(root(), ctx, DOCKERFILE, ['--attest', 'type=provenance', '--build-arg', 'FOO=secretish', '-t', 'prov:min', '-o', `type=docker,dest=${out}`]);
  const layout = await readLayout(out);
  const { image, statement } = attestationOf(layout);
  t.deepEqual(Object.keys(statement.predicate.invocation.parameters), ['frontend']);
  t.notRegex(JSON.stringify(statement), /secretish/);
  t.false(statement.predicate.metadata.completeness.parameters);
  // docker load's manifest.json still names the image's config and layers.
  const dockerManifest = JSON.parse(layout.files.get('manifest.json')!.toString());
  t.is(dockerManifest[0].Config, `blobs/sha256/${layout.blob(image.digest).config.digest.slice(7)}`);
});

it('without --provenance the layout names the image manifest itself; the local store never holds the index', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'hello\n' });
  const out = path.join(await scratch(), 'img.tar');
  await build(root(), ctx, DOCKERFILE, ['-t', 'prov:none', '-o', `type=oci,dest=${out}`]);
  const layout = await readLayout(out);
  t.is(layout.index.manifests[0]!.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  const inspect = async (ref: string) => JSON.parse((await ok(['inspect', ref], { root: root() })).stdout)[0];
  await build(root(), ctx, DOCKERFILE, ['-t', 'prov:plain']);
  await build(root(), ctx, DOCKERFILE, ['--provenance=true', '-t', 'prov:local']);
  const [plain, attested] = [await inspect('prov:plain'), await inspect('prov:local')];
  t.is(attested.Id, plain.Id);
  t.is(attested.Metadata.ManifestDigest, plain.Metadata.ManifestDigest, 'the local store keeps the plain manifest');
});

it('bad attestation flags are refused before the build', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\n' });
  for (const [args, msg] of [
    [['--provenance=mode=full'], /invalid mode "full"/],
    [['--attest', 'type=provenance,color=red'], /unknown attribute "color"/],
    [['--attest', 'type=vex'], /type must be provenance or sbom/],
  ] as const) {
    const r = await tsbuild(['build', ...args, ctx], { root: root() });
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, msg);
    t.notRegex(r.stderr, /#1 /);
  }
});
