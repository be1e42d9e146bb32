// The public API, as another Node tool uses it: `import { build } from
// 'tsbuild'` resolves through package.json `exports` (a self-reference,
// exactly as a dependency would), builds a real fixture project into a
// fresh store, and the test looks inside the exported image.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { build, type ProgressEvent } from 'tsbuild';
import { storeSuite, FIXTURES } from './helpers/cli.js';
import { layerEntries, readOciTar, scratch } from './e2e-image-helpers.js';

// Serial: the clean-up check after a cancel looks at the store's mounts, which a concurrent build would use.
const suite = storeSuite('public API', { serial: true });
const it = suite.it;

it('build() from the package entry point builds fixtures/projects/hello: config, files and events', async (t) => {
  const out = await scratch('tsbuild-api-');
  const events: ProgressEvent[] = [];
  // A library call leaves the process alone: no output, no signal handlers.
  const written: string[] = [];
  const writes = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  const sigint = process.listenerCount('SIGINT');
  let sigintDuring = sigint;
  const building = build({
    context: path.join(FIXTURES, 'projects/hello'),
    storeRoot: suite.store.root,
    tags: ['hello:api'],
    buildArgs: { GREETING: 'library' },
    outputs: [{ type: 'image' }, { type: 'oci', dest: path.join(out, 'img.tar') }],
    onEvent: (e) => {
      events.push(e);
      sigintDuring = Math.max(sigintDuring, process.listenerCount('SIGINT'));
    },
  });
  const result = await building.finally(() => {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
  });
  t.deepEqual(written, []);
  t.is(sigintDuring, sigint);
  t.regex(result.imageId, /^sha256:[0-9a-f]{64}$/);
  t.is(result.metadata['containerimage.digest'], result.manifestDigest);
  const img = await readOciTar(path.join(out, 'img.tar'));
  t.is(img.configDigest, result.imageId);
  const config = img.config.config as { Env?: string[]; Cmd?: string[]; WorkingDir?: string; Labels?: Record<string, string> };
  t.deepEqual(config.Cmd, ['/app/hello.sh']);
  t.is(config.WorkingDir, '/app');
  t.true(config.Env?.includes('GREETING=library'));
  t.is(config.Labels?.['org.opencontainers.image.title'], 'tsbuild hello');
  const files = (await layerEntries(img)).flat();
  const built = files.find((e) => e.name === 'app/built.txt');
  t.is(built?.data.toString(), 'built for library\n');
  const script = files.filter((e) => e.name === 'app/hello.sh').at(-1); // the RUN's chmod, in the last layer that has it
  t.is((script!.mode & 0o777), 0o755);
  // Progress came as events: the RUN step started and finished, exports ran.
  const run = events.find((e) => e.type === 'start' && e.vertex.name.includes('RUN chmod'));
  t.truthy(run);
  t.true(events.some((e) => e.type === 'done' && e.vertex.id === (run as { vertex: { id: string } }).vertex.id));
  t.true(events.some((e) => e.type === 'start' && e.vertex.name === 'exporting to image'));
});

it('build() rejects a bad output before any step runs, with a user error', async (t) => {
  const events: ProgressEvent[] = [];
  const err = await t.throwsAsync(build({
    context: path.join(FIXTURES, 'projects/hello'),
    storeRoot: suite.store.root,
    outputs: [{ type: 'local' }],
    onEvent: (e) => events.push(e),
  }));
  t.is(err?.message, '--output type=local needs dest=<path>');
  t.is((err as { code?: string }).code, 'USAGE');
  t.deepEqual(events, []);
});

it('build() with an aborted signal rejects as canceled and leaves nothing running', async (t) => {
  const abort = new AbortController();
  const err = await t.throwsAsync(build({
    context: path.join(FIXTURES, 'projects/hello'),
    dockerfileText: 'FROM busybox:latest\nRUN sleep 30\n',
    storeRoot: suite.store.root,
    noCache: true,
    signal: abort.signal,
    onEvent: (e) => {
      if (e.type === 'start' && e.vertex.name.includes('RUN sleep')) setTimeout(() => abort.abort(), 200);
    },
  }));
  t.is((err as { code?: string }).code, 'CANCELED');
  t.deepEqual(await readdir(path.join(suite.store.root, 'mounts')), [], 'a mount of the canceled step is left');
});

it('build() whose signal fired before the solve (e.g. during a pull) runs no step', async (t) => {
  const events: ProgressEvent[] = [];
  const err = await t.throwsAsync(build({
    context: path.join(FIXTURES, 'projects/hello'),
    dockerfileText: 'FROM busybox:latest\nRUN echo never\n',
    storeRoot: suite.store.root,
    noCache: true,
    signal: AbortSignal.abort(),
    onEvent: (e) => events.push(e),
  }));
  t.is((err as { code?: string }).code, 'CANCELED');
  t.false(events.some((e) => e.type === 'start' && e.vertex.name.includes('RUN')), JSON.stringify(events));
});
