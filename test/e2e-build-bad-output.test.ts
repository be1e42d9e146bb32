// A bad -o fails the build before its first step runs (not after a long
// build), with docker's one-line error and exit code 1: outputs are
// resolved where --cache-to/--cache-from are, before the solve.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite, tsbuild } from './helpers/cli.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = storeSuite('bad -o');
const it = suite.it;

const DOCKERFILE = 'FROM busybox:latest\nRUN echo step-ran\n';

for (const [output, message] of [
  ['type=local', '--output type=local needs dest=<path>'],
  ['type=oci,dest=img.tar,compression=brotli', 'unsupported compression "brotli" (gzip, zstd or uncompressed)'],
  ['type=oci,dest=img.tar,compression=zstd,compression-level=30', 'compression-level must be an integer from 1 to 22 for zstd, got 30'],
  ['type=docker,dest=img.tar,rewrite-timestamp=yes', 'invalid rewrite-timestamp "yes" (true or false)'],
  ['type=registry', 'tag is needed when pushing to registry (use -t NAME:TAG or --output type=registry,name=NAME:TAG)'],
] as const) {
  it(`-o ${output} fails before any step runs`, async (t) => {
    const ctx = await makeContext({ Dockerfile: DOCKERFILE });
    const r = await tsbuild(['build', '--progress=plain', '--no-cache', '-o', output, ctx], { root: suite.store.root, cwd: ctx });
    t.is(r.code, 1, r.stderr);
    t.is(r.stderr, `ERROR: ${message}\n`);
    // No progress at all: no step started, let alone the RUN.
    t.notRegex(r.stderr + r.stdout, /#\d|RUN|step-ran/);
  });
}

it('the same build with a good -o runs its RUN (the check above can fail)', async (t) => {
  const ctx = await makeContext({ Dockerfile: DOCKERFILE });
  await writeFile(path.join(ctx, '.dockerignore'), 'out\n');
  const r = await tsbuild(['build', '--progress=plain', '--no-cache', '-o', `type=local,dest=${path.join(ctx, 'out')}`, ctx], { root: suite.store.root });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /RUN echo step-ran/);
  t.regex(r.stderr, /step-ran/);
});
