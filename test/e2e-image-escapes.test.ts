// End to end: nothing outside the build context, the image rootfs or the
// store can be read or written through COPY/ADD/load. Context symlinks
// resolve inside the context (BuildKit scopes them to the context root), a
// hostile tar in ADD or in `tsbuild load` is refused, and a canary directory
// outside stays untouched.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tar from 'tar-stream';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { storeSuite, tsbuild } from './helpers/cli.js';
import { build, makeContext, ok, scratch } from './e2e-image-helpers.js';

const suite = storeSuite('e2e image escapes');
const { it } = suite;

const HOST_SECRET = 'host-secret-do-not-copy\n';

/** A context dir beside an outside dir holding a secret file, the way a real attack would be laid out. */
async function layout(): Promise<{ ctx: string; outside: string }> {
  const top = await scratch('tsbuild-escape-');
  const ctx = path.join(top, 'ctx');
  const outside = path.join(top, 'outside');
  await mkdir(ctx);
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), HOST_SECRET);
  await writeFile(path.join(top, 'x'), HOST_SECRET);
  return { ctx, outside };
}

/** Builds and expects a clean refusal: exit 1, a one-line ERROR, no stack trace. */
async function refused(t: import('ava').ExecutionContext, ctx: string, dockerfile: string, expected: RegExp, args: string[] = []): Promise<void> {
  await writeFile(path.join(ctx, 'Dockerfile'), dockerfile);
  const r = await tsbuild(['build', '--progress=plain', ...args, ctx], { root: suite.store.root });
  t.is(r.code, 1, r.stderr);
  t.log(r.stderr.trim().split('\n').filter((l) => l.startsWith('ERROR')).join(' | '));
  t.regex(r.stderr, expected);
  t.notRegex(r.stderr, /\n\s+at |internal error/, 'no stack trace');
  t.notRegex(r.stdout + r.stderr, /host-secret/);
}

/** Every file under dir, with contents: the image's final filesystem. */
async function allContents(dir: string): Promise<string> {
  let acc = '';
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) acc += await readFile(path.join(e.parentPath, e.name), 'utf8').catch(() => '');
  }
  return acc;
}

it('COPY ../x is refused', async (t) => {
  const { ctx } = await layout();
  await refused(t, ctx, 'FROM busybox:latest\nCOPY ../x /\n', /outside the build context/);
});

it('context symlinks to host files resolve inside the context: never the host content', async (t) => {
  const { ctx, outside } = await layout();
  await symlink('/etc/shadow', path.join(ctx, 'evil'));
  await symlink('/', path.join(ctx, 'root'));
  await symlink(path.join(outside, 'secret.txt'), path.join(ctx, 'abs-secret'));
  await symlink('../outside/secret.txt', path.join(ctx, 'rel-secret'));
  await refused(t, ctx, 'FROM busybox:latest\nCOPY evil /x\n', /not found in the build context/);
  await refused(t, ctx, 'FROM busybox:latest\nCOPY root/etc/passwd /x\n', /not found in the build context/);
  await refused(t, ctx, 'FROM busybox:latest\nCOPY abs-secret /x\n', /not found in the build context/);
  await refused(t, ctx, 'FROM busybox:latest\nCOPY rel-secret /x\n', /not found in the build context/);
  // Copying the whole context keeps the links as links: their targets' content never enters the image.
  const out = path.join(await scratch('tsbuild-out-'), 'rootfs');
  await build(suite.store.root, ctx, 'FROM busybox:latest\nCOPY . /ctx/\n', ['-o', `type=local,dest=${out}`]);
  t.notRegex(await allContents(path.join(out, 'ctx')), /host-secret|root:/);
  t.is((await readdir(path.join(out, 'ctx'))).sort().join(' '), 'Dockerfile abs-secret evil rel-secret root');
});

interface HostileEntry {
  name: string;
  type?: 'file' | 'symlink' | 'link' | 'directory';
  linkname?: string;
}

async function hostileTar(entries: HostileEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: 0o644, mtime: new Date(0), linkname: e.linkname };
    if (type === 'file') pack.entry(header, 'pwned\n');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

it('ADD of a hostile tar is refused and a canary outside is untouched', async (t) => {
  const canary = await scratch('tsbuild-canary-');
  await writeFile(path.join(canary, 'keep'), 'canary\n');
  const cases: Array<[string, HostileEntry[], RegExp]> = [
    ['dotdot', [{ name: `../../../../../../..${canary}/pwned` }], /outside the destination|escapes|outside/],
    ['dotdot-simple', [{ name: '../../evil' }], /outside the destination|escapes|outside/],
    ['hardlink-out', [{ name: 'hl', type: 'link', linkname: `../../../../../../..${canary}/keep` }], /outside|escapes|link/],
    ['relsymlink-out', [{ name: 'up', type: 'symlink', linkname: '../../../../../../..' }, { name: `up${canary}/pwned` }], /outside|escapes|link/],
  ];
  for (const [label, entries, expected] of cases) {
    const ctx = await makeContext({ 'evil.tar': await hostileTar(entries) });
    await refused(t, ctx, 'FROM busybox:latest\nADD evil.tar /extract/\n', expected);
    t.log(`${label}: refused`);
  }
  t.deepEqual(await readdir(canary), ['keep']);
  t.is(await readFile(path.join(canary, 'keep'), 'utf8'), 'canary\n');
});

it('ADD of a tar with absolute names and absolute symlink parents keeps every write inside the image', async (t) => {
  const canary = await scratch('tsbuild-canary-');
  const entries: HostileEntry[] = [
    { name: `${canary}/abs-name` },
    { name: 'link', type: 'symlink', linkname: canary },
    { name: 'link/through-link' },
  ];
  const ctx = await makeContext({ 'abs.tar': await hostileTar(entries) });
  const out = path.join(await scratch('tsbuild-out-'), 'rootfs');
  // BuildKit (like moby's chrootarchive) treats the destination as the root: absolute names and
  // absolute symlink targets land under it. Either a refusal or that is safe; the canary decides.
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox:latest\nADD abs.tar /extract/\n');
  const r = await tsbuild(['build', '--progress=plain', '-o', `type=local,dest=${out}`, ctx], { root: suite.store.root });
  t.deepEqual(await readdir(canary), [], 'nothing written outside');
  t.log(r.code === 0 ? 'extracted inside the image' : `refused: ${r.stderr.trim()}`);
  if (r.code === 0) {
    t.is(await readFile(path.join(out, 'extract', canary, 'abs-name'), 'utf8'), 'pwned\n');
    t.is(await readFile(path.join(out, 'extract', canary, 'through-link'), 'utf8'), 'pwned\n');
  } else {
    t.notRegex(r.stderr, /\n\s+at /);
  }
});

/** A docker-archive tar: manifest.json naming `config` and `layers` (member names as given). */
async function dockerArchive(members: Record<string, Buffer>, manifest: unknown): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of Object.entries(members)) pack.entry({ name, mode: 0o644, mtime: new Date(0), type: 'file' }, data);
  pack.entry({ name: 'manifest.json', mode: 0o644, mtime: new Date(0), type: 'file' }, JSON.stringify(manifest));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

it('tsbuild load refuses archives whose manifest points outside the archive', async (t) => {
  const dir = await scratch('tsbuild-load-');
  for (const bad of ['../../etc/passwd', '/etc/shadow']) {
    const file = path.join(dir, 'bad.tar');
    await writeFile(file, await dockerArchive({}, [{ Config: bad, RepoTags: ['evil:v1'], Layers: [] }]));
    const r = await tsbuild(['load', '-i', file], { root: suite.store.root });
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /outside the archive|refusing/);
    t.notRegex(r.stderr, /\n\s+at |root:/);
  }
});

/** A docker-archive with one layer made of `entries`, tagged `name`. */
async function oneLayerArchive(entries: HostileEntry[], name: string): Promise<string> {
  const layer = await hostileTar(entries);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: [`sha256:${hex(layer)}`] },
    history: [{ created_by: 'hostile' }],
  }));
  const file = path.join(await scratch('tsbuild-load-'), 'hostile.tar');
  await writeFile(file, await dockerArchive(
    { [`${hex(config)}.json`]: config, 'layer/layer.tar': gzipSync(layer) },
    [{ Config: `${hex(config)}.json`, RepoTags: [name], Layers: ['layer/layer.tar'] }],
  ));
  return file;
}

it('tsbuild load refuses an image whose layer climbs out of the root, like docker load', async (t) => {
  const canary = await scratch('tsbuild-canary-');
  for (const entries of [
    [{ name: `../../../../../../..${canary}/pwned` }, { name: 'ok.txt' }],
    [{ name: 'ok.txt' }, { name: 'hl', type: 'link' as const, linkname: `../../../../../../..${canary}/x` }],
  ]) {
    const file = await oneLayerArchive(entries, 'hostile:v1');
    const r = await tsbuild(['load', '-i', file], { root: suite.store.root });
    t.is(r.code, 1, r.stdout + r.stderr);
    t.log(r.stderr.trim());
    t.regex(r.stderr, /refusing unsafe layer tar entry .*escapes the layer root/);
    t.notRegex(r.stderr, /\n\s+at /);
  }
  t.notRegex((await tsbuild(['images'], { root: suite.store.root })).stdout, /hostile/);
  t.deepEqual(await readdir(canary), []);
});

it('a layer that writes through a symlinked parent is refused at load, before anything is tagged or unpacked', async (t) => {
  // Names alone cannot show this escape; load replays the layer's entries and refuses it, as the unpacker would.
  const canary = await scratch('tsbuild-canary-');
  const file = await oneLayerArchive([{ name: 'evil', type: 'symlink', linkname: canary }, { name: 'evil/pwned' }], 'symparent:v1');
  const r = await tsbuild(['load', '-i', file], { root: suite.store.root });
  t.is(r.code, 1, r.stdout + r.stderr);
  t.regex(r.stderr, /^ERROR: .*is not a valid image: layer 0 .*"evil\/pwned": its parent evil is a symlink\n$/);
  t.notRegex((await tsbuild(['images'], { root: suite.store.root })).stdout, /symparent/);
  t.deepEqual(await readdir(canary), [], 'nothing written outside');
});
