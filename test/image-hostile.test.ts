// Hostile image inputs through the real CLI: `import` of broken tars, and
// `load -i` / `pull` of images that `du --check` would find broken (wrong
// layer sizes, diff_ids that are not the layers, layers that write through
// a symlinked parent or carry invalid whiteouts). Each gets a one-line
// error and exit 1, nothing is tagged, no blob it brought stays behind, and
// `du --check` still passes. None of this needs root.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { tsbuild, type CliResult } from './helpers/cli.js';
import { registrySkipReason, startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { makeTar, tempDir, type FileSpec } from './image-helpers.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** One line on stderr, exit 1: the CLI's answer to bad input. */
function assertOneLineError(t: { is(a: unknown, b: unknown, m?: string): void; regex(s: string, r: RegExp): void }, r: CliResult, pattern: RegExp): void {
  t.is(r.code, 1, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr.slice(0, 2000));
  t.regex(r.stderr, pattern);
}

async function assertStoreClean(t: { is(a: unknown, b: unknown, m?: string): void; deepEqual(a: unknown, b: unknown, m?: string): void }, root: string): Promise<void> {
  const check = await tsbuild(['du', '--check'], { root });
  t.is(check.code, 0, check.stdout + check.stderr);
  t.is((await tsbuild(['images', '-q'], { root })).stdout, '');
  const blobs = await fs.readdir(path.join(root, 'content/blobs/sha256')).catch(() => []);
  t.deepEqual(blobs, [], 'no blob of the refused image stays in the store');
}

// ---- import ----------------------------------------------------------------

/** A tar header whose size field is base-256 (GNU) for sizes over 8 GB. */
function hugeEntryTar(size: bigint): Buffer {
  const h = Buffer.alloc(512);
  h.write('huge', 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h[124] = 0x80;
  for (let i = 11, v = size; i >= 1; i--, v >>= 8n) h[124 + i] = Number(v & 0xffn);
  h.write('00000000000\0', 136);
  h.write('0', 156);
  h.write('ustar  \0', 257);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return Buffer.concat([h, Buffer.alloc(4096, 'x')]);
}

const importCases: Array<[string, () => Promise<Buffer>]> = [
  ['a truncated tar', async () => (await makeTar([{ name: 'big', content: Buffer.alloc(100_000, 7) }])).subarray(0, 30_000)],
  ['a truncated gzip tar', async () => gzipSync(await makeTar([{ name: 'big', content: randomBytes(100_000) }])).subarray(0, 30_000)],
  ['a tar entry that declares 1 TB', async () => hugeEntryTar(1n << 40n)],
  ['a rootfs that writes through its own symlink', async () => makeTar([{ name: 'etc', type: 'symlink', linkname: '/tmp' }, { name: 'etc/passwd', content: 'x' }])],
];

for (const [what, make] of importCases) {
  test(`import of ${what}: one-line error, exit 1, the store stays clean`, async (t) => {
    const root = await tempDir('tsbuild-hostile-');
    const file = path.join(await tempDir(), 'input.tar');
    await fs.writeFile(file, await make());
    const why = what.includes('symlink') ? /"etc\/passwd": its parent etc is a symlink/ : /not a valid tar archive/;
    assertOneLineError(t, await tsbuild(['import', file, 'imported:v1'], { root }), /^ERROR: .*input\.tar: /);
    // The same bytes on stdin.
    const r = await tsbuild(['import', '-', 'imported:v1'], { root, input: await fs.readFile(file) });
    assertOneLineError(t, r, /^ERROR: /);
    t.regex(r.stderr, why);
    await assertStoreClean(t, root);
    t.deepEqual(await fs.readdir(path.join(root, 'content/tmp')).catch(() => []), [], 'no temp file left');
  });
}

// ---- hostile images: one OCI image, then the ways it can lie ---------------

interface ImageParts {
  layers: Buffer[];
  /** Defaults to the layers' digests. */
  diffIds?: string[];
  /** Manifest sizes per layer; defaults to the true ones. */
  sizes?: number[];
}

interface Blobs {
  manifest: Buffer;
  blobs: Map<string, Buffer>;
}

function imageBlobs(p: ImageParts): Blobs {
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: p.diffIds ?? p.layers.map((l) => sha256(l)) },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: p.layers.map((l, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: p.sizes?.[i] ?? l.length })),
  }));
  const blobs = new Map<string, Buffer>([[sha256(config), config], ...p.layers.map((l) => [sha256(l), l] as [string, Buffer])]);
  return { manifest, blobs };
}

async function ociArchive(b: Blobs, name: string): Promise<Buffer> {
  const index = { schemaVersion: 2, manifests: [{
    mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(b.manifest), size: b.manifest.length,
    annotations: { 'io.containerd.image.name': name },
  }] };
  const files: FileSpec[] = [
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: JSON.stringify(index) },
    { name: `blobs/sha256/${sha256(b.manifest).slice(7)}`, content: b.manifest },
    ...[...b.blobs].map(([d, bytes]) => ({ name: `blobs/sha256/${d.slice(7)}`, content: bytes })),
  ];
  return makeTar(files);
}

const okLayer = () => makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/hello', content: 'hi\n' }]);

/** The ways an image can be broken, each with what the refusal says. */
const hostileImages: Array<[string, () => Promise<ImageParts>, RegExp]> = [
  ['a manifest layer size of 1e15', async () => ({ layers: [await okLayer()], sizes: [1e15] }), /size is \d+, manifest says 1000000000000000/],
  ['config diff_ids that are not its layers', async () => ({ layers: [await okLayer()], diffIds: [sha256('something else')] }), /uncompressed digest is sha256:[0-9a-f]+, config (diff_id is|says)/],
  ['a layer that writes through a symlinked parent', async () => ({
    layers: [await makeTar([{ name: 'etc', type: 'symlink', linkname: '/tmp' }, { name: 'etc/passwd', content: 'x' }])],
  }), /"etc\/passwd": its parent etc is a symlink/],
  ['a layer that writes through a symlink of a lower layer', async () => ({
    layers: [await makeTar([{ name: 'lib', type: 'symlink', linkname: '/' }]), await makeTar([{ name: 'lib/evil', content: 'x' }])],
  }), /layer 1 .*"lib\/evil": its parent lib is a symlink in a lower layer/],
  ['an invalid whiteout', async () => ({ layers: [await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/.wh..', content: '' }])] }), /"etc\/\.wh\.\.": invalid whiteout name/],
];

for (const [what, make, why] of hostileImages) {
  test(`load -i refuses an image with ${what}; nothing is tagged or kept`, async (t) => {
    const root = await tempDir('tsbuild-hostile-');
    const file = path.join(await tempDir(), 'image.tar');
    await fs.writeFile(file, await ociArchive(imageBlobs(await make()), 'docker.io/library/hostile:v1'));
    const r = await tsbuild(['load', '-i', file], { root });
    assertOneLineError(t, r, /^ERROR: /);
    t.regex(r.stderr, why);
    await assertStoreClean(t, root);
  });
}

test('load -i still loads the same image when it is well formed (the hostile cases differ only in the lie)', async (t) => {
  const root = await tempDir('tsbuild-hostile-');
  const file = path.join(await tempDir(), 'image.tar');
  const layers = [await makeTar([{ name: 'lib', type: 'symlink', linkname: 'usr/lib' }, { name: 'usr/', type: 'directory' }, { name: 'usr/lib/', type: 'directory' }]),
    await makeTar([{ name: 'lib', type: 'directory' }, { name: 'lib/ok', content: 'x' }, { name: 'usr/.wh.lib', content: '' }])];
  await fs.writeFile(file, await ociArchive(imageBlobs({ layers }), 'docker.io/library/fine:v1'));
  const r = await tsbuild(['load', '-i', file], { root });
  t.is(r.code, 0, r.stderr);
  t.is((await tsbuild(['du', '--check'], { root })).code, 0);
  t.regex((await tsbuild(['images'], { root })).stdout, /fine\s+v1/);
});

// ---- pull: the same lies served by a real registry -------------------------

const regSkip = registrySkipReason();
let registry: RegistryServer | undefined;
test.before(async () => {
  if (!regSkip) registry = await startRegistry();
});
test.after.always(async () => registry?.stop());

/** Pushes raw blobs and a manifest, the lies included: the registry checks digests, not meaning. */
async function pushRaw(host: string, repo: string, tag: string, b: Blobs): Promise<void> {
  for (const [digest, bytes] of b.blobs) {
    const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location')!, `http://${host}`);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'content-type': 'application/octet-stream' } });
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`blob upload: ${put.status}`);
  }
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT', body: new Uint8Array(b.manifest), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`manifest upload: ${res.status}`);
}

const pullIt = regSkip ? test.skip : test;
for (const [what, make, why] of hostileImages) {
  if (what.includes('1e15')) continue; // the registry refuses a manifest whose size is not its blob's
  pullIt(`pull refuses an image with ${what}; nothing is tagged or kept${regSkip ? ` (skipped: ${regSkip})` : ''}`, async (t) => {
    const root = await tempDir('tsbuild-hostile-');
    const repo = `hostile/${createHash('sha1').update(what).digest('hex').slice(0, 8)}`;
    await pushRaw(registry!.host, repo, 'v1', imageBlobs(await make()));
    const r = await tsbuild(['pull', `${registry!.host}/${repo}:v1`], { root, env: { TSBUILD_INSECURE_REGISTRIES: registry!.host } });
    assertOneLineError(t, r, /is not a valid image: /);
    t.regex(r.stderr, why);
    await assertStoreClean(t, root);
  });
}
