// A FROM of an image the store lacks, through the CLI: the pull shows a
// download line per layer, the stage's first step is `FROM ref@digest`
// and reports the unpack of each layer, in plain and rawjson, and the
// image built on top of it runs. The bottom layer is unpacked while it
// downloads: a download cut short and resumed still gives the right
// files, and corrupt bytes never become a snapshot. The image check before
// the tag takes the bottom layer's diff id and entries from that unpack:
// a config whose diff id lies still fails the pull.
import test from 'ava';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openStore } from '../builder/store/open-store.js';
import type { RawJsonRecord } from '../builder/progress/rawjson.js';
import { pushImage } from '../builder/registry/index.js';
import { buildImage, readImage } from '../builder/image/image.js';
import { buildSkipReason, freshStore, tempDir, tsbuild } from './helpers/cli.js';
import { registrySkipReason, startProxy, startRegistry, type RegistryServer } from './helpers/registry-server.js';

const skip = buildSkipReason() ?? registrySkipReason();
let registry: RegistryServer;
let base: string;
let liar: string;
let layer: string;
let ctx: string;

test.before(async () => {
  if (skip) return;
  registry = await startRegistry();
  const seed = await freshStore();
  const store = await openStore(seed.root);
  base = `${registry.host}/library/busybox:latest`;
  await pushImage(store.content, store.images, 'busybox:latest', base);
  // busybox's layer under a config that names another diff id for it.
  const busybox = await readImage(store.content, (await store.images.resolve('busybox:latest')).manifestDigest);
  const lie = await buildImage(store.content, {
    base: { config: { ...busybox.config, history: [] }, layers: [] },
    containerConfig: busybox.config.config ?? {},
    layers: [{ ...busybox.layers[0]!, diffId: `sha256:${'0'.repeat(64)}` as typeof busybox.layers[0]['diffId'] }],
    history: [{ created_by: 'a lie' }],
  });
  await store.images.tag('liar:latest', lie.manifestDigest);
  liar = `${registry.host}/library/liar:latest`;
  await pushImage(store.content, store.images, 'liar:latest', liar);
  await seed.dispose();
  ctx = await tempDir();
  await fs.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${base}\nRUN echo hi > /hi\n`);
});
test.after.always(async () => registry?.stop());

const it = skip ? test.skip : test.serial;
if (skip) test.skip(`FROM progress (skipped: ${skip})`, () => {});

it('plain: download lines while pulling, then [1/2] FROM with extracting lines', async (t) => {
  const root = await tempDir('tsbuild-from-');
  const r = await tsbuild(['build', '--progress=plain', '-t', 'from-progress:v1', ctx], { root });
  t.is(r.code, 0, r.stderr);
  const from = new RegExp(`^#(\\d+) \\[1/2\\] FROM ${base.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`, 'm').exec(r.stderr);
  t.truthy(from, r.stderr);
  const n = from![1];
  const extracted = new RegExp(`^#${n} extracting (sha256:[0-9a-f]{64}) \\d+\\.\\ds done$`, 'm').exec(r.stderr);
  t.truthy(extracted, r.stderr);
  layer = extracted![1]!;
  t.regex(r.stderr, new RegExp(`^#${n} extracting ${layer}$`, 'm'), 'the unpack is announced before it is done');
  t.regex(r.stderr, new RegExp(`^#\\d+ ${layer} [\\d.]+[kM]?B / [\\d.]+[kM]?B \\d+\\.\\ds done$`, 'm'), 'the layer download line');
  t.regex(r.stderr, /^#\d+ \[2\/2\] RUN echo hi > \/hi$/m);

  const run = await tsbuild(['run', '--rm', '--network', 'none', 'from-progress:v1', 'cat', '/hi'], { root });
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, 'hi\n');

  // Rebuilt from the cache: nothing to download or unpack, FROM is cached.
  const again = await tsbuild(['build', '--progress=plain', '-t', 'from-progress:v1', ctx], { root });
  t.is(again.code, 0, again.stderr);
  t.notRegex(again.stderr, /extracting|B \/ /);
});

it('rawjson: the FROM vertex carries the extracting status, the pull a download status by layer id', async (t) => {
  const root = await tempDir('tsbuild-from-');
  const r = await tsbuild(['build', '--progress=rawjson', '-t', 'from-progress:v2', ctx], { root });
  t.is(r.code, 0, r.stderr);
  const recs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as RawJsonRecord);
  const vertexes = recs.flatMap((x) => x.vertexes ?? []);
  const statuses = recs.flatMap((x) => x.statuses ?? []);
  const from = vertexes.find((v) => v.name?.startsWith(`[1/2] FROM ${base}@sha256:`));
  t.truthy(from, r.stderr);
  const extracting = statuses.filter((s) => s.vertex === from!.digest && s.id.startsWith('extracting sha256:'));
  t.true(extracting.length >= 2, r.stderr);
  t.regex(extracting.at(-1)!.name ?? '', /^extracting sha256:[0-9a-f]{64} \d+\.\ds done$/);
  t.truthy(extracting.at(-1)!.completed);
  const download = statuses.filter((s) => s.id === layer);
  t.true(download.length > 0 && (download.at(-1)!.name ?? '').endsWith(' done'), r.stderr);
  t.true(vertexes.some((v) => v.digest === from!.digest && v.completed !== undefined && v.error === undefined));
});

async function buildThroughProxy(action: 'truncate' | 'corrupt', times: number): Promise<{ root: string; code: number; stderr: string; image: string }> {
  let hits = 0;
  const proxy = await startProxy(registry.port, {
    onResponse: (req) => (/\/blobs\/sha256:/.test(req.url) && req.url.includes(layer.slice('sha256:'.length)) && hits++ < times ? action : 'pass'),
  });
  try {
    const root = await tempDir('tsbuild-from-');
    const dir = await tempDir();
    const image = `${proxy.host}/library/busybox:latest`;
    await fs.writeFile(path.join(dir, 'Dockerfile'), `FROM ${image}\nRUN echo hi > /hi\n`);
    const r = await tsbuild(['build', '--progress=plain', '-t', `from-${action}:v1`, dir], { root });
    return { root, code: r.code, stderr: r.stderr, image: `from-${action}:v1` };
  } finally {
    await proxy.stop();
  }
}

it('a layer download cut short and resumed unpacks to the right files', async (t) => {
  const r = await buildThroughProxy('truncate', 1);
  t.is(r.code, 0, r.stderr);
  const run = await tsbuild(['run', '--rm', '--network', 'none', r.image, 'sh', '-c', 'cat /hi && busybox --help | head -1'], { root: r.root });
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /^hi\nBusyBox v/);
});

it('corrupt layer bytes fail the pull and leave no snapshot behind', async (t) => {
  const r = await buildThroughProxy('corrupt', 100);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /digest|sha256/i);
  const left = await fs.readdir(path.join(r.root, 'snapshots')).catch(() => [] as string[]);
  t.deepEqual(left.filter((n) => n !== 'empty'), [], `snapshots: ${left.join(' ')}`);
});

it('a config whose diff id lies about the layer fails the pull: no tag, no snapshot', async (t) => {
  const root = await tempDir('tsbuild-from-');
  const dir = await tempDir();
  await fs.writeFile(path.join(dir, 'Dockerfile'), `FROM ${liar}\nRUN echo hi > /hi\n`);
  const r = await tsbuild(['build', '--progress=plain', '-t', 'from-liar:v1', dir], { root });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /not a valid image: layer 0 \(sha256:[0-9a-f]{64}\): uncompressed digest is sha256:[0-9a-f]{64}, config diff_id is sha256:0{64}/);
  const left = await fs.readdir(path.join(root, 'snapshots')).catch(() => [] as string[]);
  t.deepEqual(left.filter((n) => n !== 'empty'), [], `snapshots: ${left.join(' ')}`);
  const images = await tsbuild(['images', '--format', '{{.Repository}}'], { root });
  t.notRegex(images.stdout, /liar/);
});
