// Image bytes are part of tsbuild's contract: the same inputs with
// SOURCE_DATE_EPOCH must give the same image, release after release. These
// digests were computed before the build became a library call (the
// builder/ redesign) and pin that it left every byte unchanged. A change
// here means images changed: say why in the commit that updates them.
import { chmod, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite } from './helpers/cli.js';
import { build, makeContext, readOciTar, scratch } from './e2e-image-helpers.js';

const suite = storeSuite('pinned image digests');
const it = suite.it;

const EPOCH = 1700000000;

// A context whose modes and mtimes do not depend on the machine's umask or clock.
async function fixedContext(files: Record<string, string>): Promise<string> {
  const ctx = await makeContext(files, 'tsbuild-pinned-');
  const paths = new Set<string>();
  for (const rel of Object.keys(files)) {
    for (let p = rel; p !== '.'; p = path.dirname(p)) paths.add(p);
  }
  for (const rel of [...paths].sort((a, b) => b.length - a.length)) {
    const p = path.join(ctx, rel);
    await chmod(p, rel in files ? 0o644 : 0o755);
    await utimes(p, EPOCH - 100, EPOCH - 100);
  }
  return ctx;
}

interface Pinned { imageId: string; manifestDigest: string; diffIds: string[] }

async function buildPinned(files: Record<string, string>, dockerfile: string): Promise<Pinned> {
  const ctx = await fixedContext(files);
  const out = await scratch('tsbuild-pinned-out-');
  await build(suite.store.root, ctx, dockerfile, [
    '--no-cache', '--iidfile', path.join(out, 'iid'), '--metadata-file', path.join(out, 'meta.json'),
    '-o', `type=oci,dest=${path.join(out, 'img.tar')},compression=uncompressed`,
  ], { SOURCE_DATE_EPOCH: String(EPOCH) });
  const img = await readOciTar(path.join(out, 'img.tar'));
  const meta = JSON.parse(await readFile(path.join(out, 'meta.json'), 'utf8')) as Record<string, string>;
  const imageId = (await readFile(path.join(out, 'iid'), 'utf8')).trim();
  if (imageId !== img.configDigest) throw new Error(`iidfile ${imageId} is not the exported config ${img.configDigest}`);
  return { imageId, manifestDigest: meta['containerimage.digest']!, diffIds: img.config.rootfs.diff_ids };
}

it('FROM scratch with COPY, WORKDIR, ENV, LABEL, USER, CMD: pinned image id and manifest digest', async (t) => {
  const got = await buildPinned({ 'a.txt': 'a\n', 'dir/b.txt': 'b\n', 'dir/sub/c.txt': 'c\n' }, `FROM scratch
COPY a.txt /a.txt
COPY dir/ /opt/dir/
WORKDIR /app
ENV A=1 PATH=/bin
LABEL org.example.pinned=yes
USER 1000:1000
CMD ["/a.txt"]
`);
  t.deepEqual(got, PINNED_SCRATCH);
});

// The busybox base comes from the machine's busybox-static, so only the
// layers this build added are pinned, not the whole image.
it('busybox with WORKDIR, COPY and RUN: pinned diff ids of the layers the build added', async (t) => {
  const got = await buildPinned({ 'a.txt': 'a\n', 'dir/b.txt': 'b\n' }, `FROM busybox:latest
WORKDIR /app
COPY a.txt dir/ /app/src/
RUN echo generated > /app/gen.txt && mkdir -p /app/var/cache && touch /app/var/cache/x && chmod 0640 /app/gen.txt
ENV STAMP=1
CMD ["/bin/sh"]
`);
  t.deepEqual(got.diffIds.slice(-3), PINNED_BUSYBOX_LAYERS);
});

const PINNED_SCRATCH: Pinned = {
  imageId: 'sha256:036f9a3f7b77074b8c0836077301b80b5f2d238f2e4e55038da0a6aae6f6dd69',
  manifestDigest: 'sha256:413dc7bade3e5ef56cea98fd03e707991a88db506ccf6e45de536724ee56d6d9',
  diffIds: [
    'sha256:fc41432290b37d04236d1c7ce5e0fd39e9c82ca3377e1fb156e4044777d042cd',
    'sha256:c07f6ae661c49bcc5b12b070d85a0d89ee8b02627d09caefc0514600e7df81b4',
    'sha256:0a785fce298b854f447da42ca9f10c328881defc5b18d471a5d6684a95bee7f6',
  ],
};
// WORKDIR /app (the same layer as in the scratch image), COPY, RUN.
const PINNED_BUSYBOX_LAYERS: string[] = [
  'sha256:0a785fce298b854f447da42ca9f10c328881defc5b18d471a5d6684a95bee7f6',
  'sha256:c3c173d6251e07c1f494e7bd8655d8f10e47676dd56ae954af9425cc296aeebf',
  'sha256:cc7261e4fa436f5f3d56cb9fd3654f26d73bd581a85072a0ecdb7bfc3a098fea',
];
