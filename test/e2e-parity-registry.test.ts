// End to end, against Debian's docker-registry on loopback: the digest
// `build --push` reports (--metadata-file) and `push` prints is the one the
// registry serves, and inspect's RepoDigests names it; SOURCE_DATE_EPOCH
// gives one image whatever the cache holds, in another store, and streamed.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { freshStore, TSBUILD_BIN } from './helpers/cli.js';
import { registryStoreSuite } from './helpers/registry-store-suite.js';
import { build, makeContext, ok, readTar, scratch } from './e2e-image-helpers.js';

const suite = registryStoreSuite('e2e parity with a registry');
const { it } = suite;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

async function getManifest(repo: string, digest: string): Promise<{ status: number; digest?: string }> {
  const res = await fetch(`http://${suite.registry.host}/v2/${repo}/manifests/${digest}`, { headers: { Accept: `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json` } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, digest: res.ok ? `sha256:${createHash('sha256').update(body).digest('hex')}` : undefined };
}

const inspect = async (root: string, ref: string) => JSON.parse((await ok(['inspect', ref], { root })).stdout)[0];

it('build --push: --metadata-file names the digest the registry serves; push prints it too', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'pushed\n' });
  const meta = path.join(await scratch(), 'meta.json');
  const ref = `${suite.registry.host}/parity/app:v1`;
  await build(suite.store.root, ctx, 'FROM busybox:latest\nCOPY f.txt /f.txt\n', ['--push', '-t', ref, '--metadata-file', meta]);
  const m = JSON.parse(await readFile(meta, 'utf8'));
  const info = await inspect(suite.store.root, ref);
  t.not(m['containerimage.digest'], info.Metadata.ManifestDigest, 'the pushed manifest names gzip layers: not the local digest');
  const got = await getManifest('parity/app', m['containerimage.digest']);
  t.is(got.status, 200, 'GET by the reported digest');
  t.is(got.digest, m['containerimage.digest']);
  t.is(m['image.name'], ref);
  t.deepEqual(info.RepoDigests, [`${suite.registry.host}/parity/app@${m['containerimage.digest']}`]);

  // `push` of the same image under another name: the digest it prints is served too.
  const pushed = await ok(['push', ref, `${suite.registry.host}/parity/other:v2`], { root: suite.store.root });
  const printed = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
  t.truthy(printed, pushed.stdout);
  t.is((await getManifest('parity/other', printed!)).status, 200);
  t.deepEqual((await inspect(suite.store.root, ref)).RepoDigests.sort(), [
    `${suite.registry.host}/parity/app@${m['containerimage.digest']}`,
    `${suite.registry.host}/parity/other@${printed}`,
  ].sort());

  // A fresh store that pulls it learns the same repo digest; a local build has none.
  const other = await freshStore();
  try {
    await ok(['pull', ref], { root: other.root });
    t.deepEqual((await inspect(other.root, ref)).RepoDigests, [`${suite.registry.host}/parity/app@${m['containerimage.digest']}`]);
    t.deepEqual((await inspect(other.root, 'busybox:latest')).RepoDigests, []);
  } finally {
    await other.dispose();
  }
});

const EPOCH = '1700000000';
const REPRO_DOCKERFILE = `FROM busybox:latest
WORKDIR /app
COPY . /app/src/
RUN echo generated > /app/gen.txt
`;

it('SOURCE_DATE_EPOCH: one digest after a build without it, with --no-cache, in another store, and streamed as type=oci', async (t) => {
  const ctx = await makeContext({ 'a.txt': 'a\n', 'b/c.txt': 'c\n' });
  const epoch = { SOURCE_DATE_EPOCH: EPOCH };
  const noEpoch = { SOURCE_DATE_EPOCH: '' };
  const digestOf = async (root: string) => (await inspect(root, 'repro:v1')).Metadata.ManifestDigest as string;
  // A build without the epoch fills the cache with layers stamped "now".
  await build(suite.store.root, ctx, REPRO_DOCKERFILE, ['-t', 'repro:v1'], noEpoch);
  const unclamped = await digestOf(suite.store.root);
  await build(suite.store.root, ctx, REPRO_DOCKERFILE, ['-t', 'repro:v1'], epoch);
  const warm = await digestOf(suite.store.root);
  t.not(warm, unclamped);
  await build(suite.store.root, ctx, REPRO_DOCKERFILE, ['-t', 'repro:v1', '--no-cache'], epoch);
  t.is(await digestOf(suite.store.root), warm, '--no-cache');
  await build(suite.store.root, ctx, REPRO_DOCKERFILE, ['-t', 'repro:v1', '-o', 'type=image,rewrite-timestamp=true'], epoch);
  t.is(await digestOf(suite.store.root), warm, 'rewrite-timestamp=true is accepted and changes nothing');
  const other = await freshStore();
  try {
    await build(other.root, ctx, REPRO_DOCKERFILE, ['-t', 'repro:v1'], epoch);
    t.is(await digestOf(other.root), warm, 'another store');
  } finally {
    await other.dispose();
  }
  // Streamed to stdout as an OCI layout with the local (uncompressed) layers: the same manifest.
  const streamed = await tsbuildStdout(['build', '--progress=plain', '-o', 'type=oci,dest=-,compression=uncompressed', ctx], epoch);
  const entries = await readTar(streamed);
  const index = JSON.parse(entries.find((e) => e.name === 'index.json')!.data.toString());
  t.is(index.manifests[0].digest, warm, 'streamed type=oci');
});

async function tsbuildStdout(args: string[], env: NodeJS.ProcessEnv): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSBUILD_BIN, ...args], { env: { ...process.env, ...env, TSBUILD_ROOT: suite.store.root, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`exit ${code}: ${err}`))));
  });
}
