// End to end: what a RUN step leaves behind. Its changes become the layer
// (whiteouts, opaque dirs) without the mountpoints the sandbox created; a
// failing RUN shows its output and exit code and leaves no image or cache.
import test from 'ava';
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { tsbuild } from './helpers/cli.js';
import { e2eRunSuite } from './e2e-step-run-helpers.js';
import { build, layerEntries, readOciTar } from './e2e-image-helpers.js';

const suite = e2eRunSuite('e2e RUN layers');
const { skip, it, scratchDir, context } = suite;

/** Names in the last layer of the image `dockerfile` builds (as an OCI tar). */
async function lastLayerNames(dockerfile: string, args: string[] = []): Promise<string[]> {
  const ctx = await context({ 'ctx.txt': 'x' });
  const tarFile = path.join(await scratchDir('oci'), 'image.tar');
  await build(suite.store.root, ctx, dockerfile, ['-o', `type=oci,dest=${tarFile}`, ...args]);
  const layers = await layerEntries(await readOciTar(tarFile));
  return layers.at(-1)!.map((e) => e.name.replace(/\/$/, '')).sort();
}

it('deleted base files become whiteouts, a replaced dir becomes opaque', async (t) => {
  const names = await lastLayerNames(`FROM busybox:latest
RUN mkdir -p /d/sub && echo a > /d/sub/a && echo keep > /d/keep
RUN rm /etc/os-release && rm -rf /d/sub && mkdir /d/sub && echo b > /d/sub/b && echo hi > /newfile
`);
  t.deepEqual(names, ['d', 'd/sub', 'd/sub/.wh..wh..opq', 'd/sub/b', 'etc', 'etc/.wh.os-release', 'newfile']);
});

// Every mountpoint of this step that the busybox base lacks: secret, cache,
// tmpfs and bind targets, and the /etc files the sandbox always binds.
const STUB_DOCKERFILE = `FROM busybox:latest
RUN --mount=type=secret,id=tok --mount=type=cache,target=/scratch/cache --mount=type=tmpfs,target=/scratch/tmp \\
    --mount=type=bind,source=ctx.txt,target=/bindtarget/ctx.txt --mount=type=cache,target=/var/cache/x \\
    cat /run/secrets/tok /etc/resolv.conf /etc/hosts /etc/hostname /bindtarget/ctx.txt > /dev/null && echo done > /marker
`;
async function stubSecretArgs(): Promise<string[]> {
  const secretFile = path.join(await scratchDir('secret'), 'tok');
  await writeFile(secretFile, 'value');
  return ['--secret', `id=tok,src=${secretFile}`];
}

it('mountpoints the sandbox created are not in the layer', async (t) => {
  const names = await lastLayerNames(STUB_DOCKERFILE, await stubSecretArgs());
  t.true(names.includes('marker'));
  const stubs = names.filter((n) => /^(run|scratch|bindtarget|var\/cache)(\/|$)|^etc\/(resolv\.conf|hosts|hostname)$/.test(n));
  t.deepEqual(stubs, []);
});

// Creating a stub inside a dir the base already has (/etc, /var) changes
// that dir's mtime, so overlayfs copies the dir up and it enters the layer
// (with the build's time) although the step changed nothing in it. BuildKit
// restores the parent's times after removing its stubs, and its differ
// skips a copied-up dir whose metadata is unchanged.
it('a mountpoint created inside an existing base dir leaves that dir out of the layer', async (t) => {
  const names = await lastLayerNames(STUB_DOCKERFILE, await stubSecretArgs());
  t.deepEqual(names, ['marker']);
});

it('a failing RUN prints its last output lines and exit code, fails the build, tags nothing and caches nothing', async (t) => {
  const ctx = await context({
    Dockerfile: `FROM busybox:latest
RUN echo on-stdout; echo on-stderr >&2; for i in $(seq 1 30); do echo line$i; done; exit 7
`,
  });
  const r = await tsbuild(['build', '--progress=plain', '-t', 'broken:v1', ctx], { root: suite.store.root });
  t.not(r.code, 0);
  t.regex(r.stderr, /on-stdout/);
  t.regex(r.stderr, /on-stderr/);
  t.regex(r.stderr, /line30/);
  t.regex(r.stderr, /ERROR: process "\/bin\/sh -c echo on-stdout; .*exit 7" did not complete successfully: exit code: 7/);
  // The error summary repeats the step's last lines, as BuildKit does.
  const summary = r.stderr.slice(r.stderr.lastIndexOf('------\n >'));
  t.regex(summary, /earlier lines not shown\]/);
  t.regex(summary, /line30\n/);
  t.notRegex(summary, /line1\n/, 'only the last lines');

  const inspect = await tsbuild(['inspect', 'broken:v1'], { root: suite.store.root });
  t.not(inspect.code, 0, 'no image was tagged');

  // Not cached: the rerun runs the command again (its output shows again).
  const again = await tsbuild(['build', '--progress=plain', '-t', 'broken:v1', ctx], { root: suite.store.root });
  t.not(again.code, 0);
  t.regex(again.stderr, /\d on-stdout/);
  t.notRegex(again.stderr, /RUN echo on-stdout.*\n#\d+ CACHED/);
});
