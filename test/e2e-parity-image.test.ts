// End to end: images that match what Docker 26 / BuildKit 0.13 produce for
// the same Dockerfile: ENV/LABEL expansion, COPY --chmod on created dirs,
// one layer per RUN/COPY/ADD/WORKDIR (empty ones too), USER's
// supplementary groups, docker's inspect/history fields, buildx's step
// names and error excerpts. Each looks inside the image the CLI produced.
import { readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite, tsbuild, TSBUILD_BIN } from './helpers/cli.js';
import { build, layerEntries, makeContext, ok, readOciTar, readTar, scratch, sha256, type TarEntry } from './e2e-image-helpers.js';

const suite = storeSuite('e2e BuildKit parity');
const { it } = suite;
const root = () => suite.store.root;
const inspect = async (ref: string) => JSON.parse((await ok(['inspect', ref], { root: root() })).stdout)[0];
// BuildKit's empty layer: a tar of two zero blocks (diff id), 32 bytes gzipped.
const EMPTY_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

async function exportOci(ref: string) {
  const out = path.join(await scratch(), 'img.tar');
  await ok(['save', '--format', 'oci', '-o', out, ref], { root: root() });
  return readOciTar(out);
}

it('ENV and LABEL expand every word against the environment from before the instruction', async (t) => {
  const ctx = await makeContext({});
  await build(root(), ctx, 'FROM busybox:latest\nENV A=first\nENV A=second B=$A\nLABEL A=l C=$A\nRUN echo "$A $B" > /ab\n', ['-t', 'envexp:v1']);
  const info = await inspect('envexp:v1');
  t.true(info.Config.Env.includes('A=second'));
  t.true(info.Config.Env.includes('B=first'), 'B takes the A from before the ENV, as BuildKit');
  t.is(info.Config.Labels.C, 'second');
  const r = await ok(['run', '--rm', 'envexp:v1', 'cat', '/ab'], { root: root() });
  t.is(r.stdout, 'second first\n');
});

it('COPY --chmod on a directory source: copied entries get the mode, the dirs COPY creates get 0755', async (t) => {
  const ctx = await makeContext({ 'src/a.txt': 'a', 'src/sub/b.txt': 'b' });
  await build(root(), ctx, 'FROM busybox:latest\nCOPY --chmod=700 src /new/deep/\n', ['-t', 'chmoddir:v1']);
  const img = await exportOci('chmoddir:v1');
  const entries = (await layerEntries(img)).at(-1)!;
  const mode = (name: string) => entries.find((e) => e.name.replace(/\/$/, '') === name)?.mode;
  t.is(mode('new'), 0o755);
  t.is(mode('new/deep'), 0o755, 'the destination directory itself is created, not copied');
  t.is(mode('new/deep/a.txt'), 0o700);
  t.is(mode('new/deep/sub'), 0o700);
  t.is(mode('new/deep/sub/b.txt'), 0o700);
});

it('every RUN, COPY, ADD and WORKDIR gets a layer, an empty one too, with no empty_layer', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'f' });
  const dockerfile = `FROM busybox:latest
WORKDIR /bin
RUN --mount=type=cache,target=/cache echo only-in-cache > /cache/x
COPY f.txt /f.txt
ADD f.txt /f.txt
ENV X=1
WORKDIR /
`;
  await build(root(), ctx, dockerfile, ['-t', 'layers:v1']);
  const img = await exportOci('layers:v1');
  const own = img.config.history!.slice(-6);
  t.deepEqual(own.map((h) => [h.created_by!.split(' ')[0], h.empty_layer ?? false]), [
    ['WORKDIR', false], ['RUN', false], ['COPY', false], ['ADD', false], ['ENV', true], ['WORKDIR', true],
  ]);
  t.is(img.config.rootfs.diff_ids.length, 1 + 4, 'base layer + one per RUN/COPY/ADD/WORKDIR');
  t.is(img.config.history!.filter((h) => !h.empty_layer).length, img.config.rootfs.diff_ids.length);
  t.is(img.config.rootfs.diff_ids[1], EMPTY_DIFF_ID, 'WORKDIR of an existing dir: the empty layer');
  t.is(img.config.rootfs.diff_ids[2], EMPTY_DIFF_ID, 'a RUN writing only to a cache mount: the empty layer');
  t.deepEqual(img.layers[1], Buffer.alloc(1024), 'two zero blocks, as BuildKit writes it');
  // The image still runs: the same empty layer twice is one overlay lower dir.
  t.is((await ok(['run', '--rm', 'layers:v1', 'cat', '/f.txt'], { root: root() })).stdout, 'f');
  const history = (await ok(['history', 'layers:v1'], { root: root() })).stdout;
  t.regex(history, /RUN .*only-in-cache.*\s0B\s/);
});

it('WORKDIR of a directory a later layer removed creates it again; one reached through a symlink is the empty layer', async (t) => {
  const ctx = await makeContext({});
  const dockerfile = `FROM busybox:latest
RUN mkdir -p /d/keep /gone/x && ln -s /d/keep /lnk
RUN rm -rf /gone
WORKDIR /gone/x
WORKDIR /lnk
`;
  await build(root(), ctx, dockerfile, ['-t', 'workdirs:v1']);
  const img = await exportOci('workdirs:v1');
  const layers = await layerEntries(img);
  t.deepEqual(layers.at(-2)!.map((e) => e.name).sort(), ['gone/', 'gone/x/'], 'the whiteout hides /gone: WORKDIR makes it');
  t.is(img.config.rootfs.diff_ids.at(-1), EMPTY_DIFF_ID, 'WORKDIR through a symlink to an existing dir');
  t.is((await ok(['run', '--rm', 'workdirs:v1', 'sh', '-c', 'cd /gone/x && pwd -P && cd /lnk && pwd -P'], { root: root() })).stdout, '/gone/x\n/d/keep\n');
});

it('USER by name gets the supplementary groups from /etc/group, in RUN and in tsbuild run', async (t) => {
  const ctx = await makeContext({});
  const dockerfile = `FROM busybox:latest
RUN echo "extra:x:2000:app" >> /etc/group && echo "more:x:2001:root,app" >> /etc/group
USER app
RUN id > /tmp/id-app
USER root
RUN id > /tmp/id-root
USER app:extra
RUN id > /tmp/id-explicit
`;
  await build(root(), ctx, dockerfile, ['-t', 'groups:v1']);
  const cat = async (f: string, user: string[] = []) => (await ok(['run', '--rm', ...user, 'groups:v1', 'cat', f], { root: root() })).stdout.trim();
  t.is(await cat('/tmp/id-app'), 'uid=1000(app) gid=1000(app) groups=100(users),2000(extra),2001(more)');
  t.is(await cat('/tmp/id-root'), 'uid=0(root) gid=0(root) groups=2001(more)');
  t.is(await cat('/tmp/id-explicit'), 'uid=1000(app) gid=2000(extra)', 'an explicit group drops the supplementary ones, as runc');
  const run = await ok(['run', '--rm', '-u', 'app', 'groups:v1', 'id'], { root: root() });
  t.is(run.stdout.trim(), 'uid=1000(app) gid=1000(app) groups=100(users),2000(extra),2001(more)');
});

it('inspect and history show what docker shows: Comment, uncompressed sizes, BuildKit 0.13 history lines', async (t) => {
  const ctx = await makeContext({ 'data.bin': Buffer.alloc(3000, 1) });
  const dockerfile = `FROM busybox:latest
ARG VERSION=1.0
ARG NODEFAULT
COPY data.bin /data.bin
EXPOSE 80 443/udp 80
HEALTHCHECK --interval=5m --retries=3 CMD true
`;
  await build(root(), ctx, dockerfile, ['-t', 'meta:v1', '--build-arg', 'VERSION=2.0', '--build-arg', 'NODEFAULT=x']);
  const info = await inspect('meta:v1');
  t.is(info.Comment, 'buildkit.dockerfile.v0');
  t.deepEqual(info.RepoDigests, [], 'never pushed or pulled: no repo digest, as docker');
  const base = await inspect('busybox:latest');
  t.is(info.Size - base.Size, 3000, 'Size counts file bytes, not tar framing');
  const img = await exportOci('meta:v1');
  const lines = img.config.history!.slice(-5).map((h) => h.created_by);
  t.deepEqual(lines, [
    'ARG VERSION=1.0',
    'ARG NODEFAULT',
    'COPY data.bin /data.bin # buildkit',
    'EXPOSE map[443/udp:{} 80/tcp:{}]',
    `HEALTHCHECK &{["CMD-SHELL" "true"] "5m0s" "0s" "0s" "0s" '\\x03'}`,
  ]);
  const rows = (await ok(['history', '--no-trunc', 'meta:v1'], { root: root() })).stdout.split('\n');
  t.regex(rows.find((r) => r.includes('COPY data.bin'))!, /\s3kB\s/);
});

it('history shows a tab of a step\'s command as a space, as docker\'s history does, and the config keeps it', async (t) => {
  const ctx = await makeContext({});
  await build(root(), ctx, 'FROM busybox:latest\nLABEL note="tab\there"\n', ['-t', 'tabs:v1']);
  const shown = (await ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'tabs:v1'], { root: root() })).stdout.split('\n');
  t.is(shown[0], 'LABEL note=tab here');
  const img = await exportOci('tabs:v1');
  t.is(img.config.history!.at(-1)!.created_by, 'LABEL note=tab\there');
});

it('progress names steps as buildx does: [1/3] FROM with one stage, [name n/m] with several', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'f' });
  const one = await build(root(), ctx, 'FROM busybox:latest\nRUN echo one\nCOPY f.txt /f\n', ['--no-cache']);
  t.regex(one.stderr, /#\d+ \[1\/3\] FROM docker\.io\/library\/busybox:latest@sha256:[0-9a-f]{64}\n/);
  t.regex(one.stderr, /#\d+ \[2\/3\] RUN echo one\n/);
  t.regex(one.stderr, /#\d+ \[3\/3\] COPY f\.txt \/f\n/);
  const multi = await build(root(), ctx, 'FROM busybox:latest AS build\nRUN echo two > /x\nFROM scratch\nCOPY --from=build /x /x\n', ['--no-cache']);
  t.regex(multi.stderr, /#\d+ \[build 1\/2\] FROM docker\.io\/library\/busybox/);
  t.regex(multi.stderr, /#\d+ \[build 2\/2\] RUN echo two > \/x\n/);
  t.regex(multi.stderr, /#\d+ \[stage-1 1\/1\] COPY --from=build \/x \/x\n/);
  const steps = Array.from({ length: 10 }, (_, i) => `RUN echo ${i}`).join('\n');
  const wide = await build(root(), ctx, `FROM busybox:latest\n${steps}\n`, ['--no-cache']);
  t.regex(wide.stderr, /#\d+ \[ 2\/11\] RUN echo 0\n/, 'numbers are padded to the width of the total');
});

it('--metadata-file has buildx.build.ref, the normalised image.name and the image digest', async (t) => {
  const ctx = await makeContext({});
  const out = await scratch();
  const file = path.join(out, 'meta.json');
  await build(root(), ctx, 'FROM busybox:latest\nRUN true\n', ['-t', 'metafile:v1', '-t', 'other', '--metadata-file', file]);
  const meta = JSON.parse(await readFile(file, 'utf8'));
  t.regex(meta['buildx.build.ref'], /^tsbuild\/local\/[a-z0-9]+$/);
  t.is(meta['image.name'], 'docker.io/library/metafile:v1,docker.io/library/other:latest');
  const info = await inspect('metafile:v1');
  t.is(meta['containerimage.config.digest'], info.Id);
  t.is(meta['containerimage.digest'], info.Metadata.ManifestDigest);
  t.is(meta['containerimage.descriptor'].digest, info.Metadata.ManifestDigest);
});

it('a bad -t or a missing --secret file fails before the build starts, exit 1', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo SHOULD-NOT-RUN\n' });
  const badTag = await tsbuild(['build', '--progress=plain', '-t', 'Bad:Tag', ctx], { root: root() });
  t.is(badTag.code, 1);
  t.is(badTag.stderr.trim(), 'ERROR: invalid tag "Bad:Tag": invalid reference format: repository name must be lowercase');
  const noSecret = await tsbuild(['build', '--progress=plain', '--secret', 'id=tok,src=/nonexistent/tok', ctx], { root: root() });
  t.is(noSecret.code, 1);
  t.is(noSecret.stderr.trim(), 'ERROR: invalid --secret id=tok: open /nonexistent/tok: no such file or directory');
  t.notRegex(badTag.stderr + noSecret.stderr, /SHOULD-NOT-RUN|#1/);
});

it('a failing RUN shows the Dockerfile around it with >>>; a missing COPY source gets a hint', async (t) => {
  const ctx = await makeContext({ 'app.js': 'x', 'secret.txt': 's', '.dockerignore': 'secret.txt\n' });
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN true\n\nRUN exit 3\nENV A=b\n');
  const fail = await tsbuild(['build', '--progress=plain', ctx], { root: root() });
  t.is(fail.code, 1);
  t.true(fail.stderr.includes([
    'Dockerfile:4',
    '--------------------',
    '   2 |     RUN true',
    '   3 |     ',
    '   4 | >>> RUN exit 3',
    '   5 |     ENV A=b',
    '   6 |     ',
    '--------------------',
    'ERROR: Dockerfile:4: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
  ].join('\n')), fail.stderr);
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY app.jss /app/\n');
  const typo = await tsbuild(['build', '--progress=plain', ctx], { root: root() });
  t.is(typo.code, 1);
  t.regex(typo.stderr, /ERROR: Dockerfile:2: source "app\.jss" not found in the build context: did you mean "app\.js"\?/);
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY secret.txt /app/\n');
  const ignored = await tsbuild(['build', '--progress=plain', ctx], { root: root() });
  t.regex(ignored.stderr, /source "secret\.txt" not found in the build context: it is excluded by \.dockerignore/);
});

it('BUILDKIT_PROGRESS and TSBUILD_PROGRESS choose the progress mode; --progress wins', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN true\n' });
  const run = (env: NodeJS.ProcessEnv, args: string[] = []) => tsbuild(['build', ...args, ctx], { root: root(), env });
  const raw = await run({ BUILDKIT_PROGRESS: 'rawjson' });
  t.is(raw.code, 0, raw.stderr);
  const jsonLines = raw.stderr.split('\n').filter(Boolean);
  t.true(jsonLines.length > 0 && jsonLines.every((l) => l.startsWith('{')), raw.stderr);
  const plain = await run({ BUILDKIT_PROGRESS: 'rawjson', TSBUILD_PROGRESS: 'plain' });
  t.regex(plain.stderr, /^#1 \[internal\] load build definition/m);
  const flag = await run({ TSBUILD_PROGRESS: 'rawjson' }, ['--progress', 'plain']);
  t.regex(flag.stderr, /^#1 /m);
  const bad = await run({ BUILDKIT_PROGRESS: 'fancy' });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /invalid BUILDKIT_PROGRESS "fancy"/);
});

it('--add-host, --ulimit, --shm-size and --cgroup-parent reach every RUN', async (t) => {
  const parent = `tsbuild-parity-${process.pid}`;
  const ctx = await makeContext({});
  const dockerfile = 'FROM busybox:latest\nRUN cat /etc/hosts > /hosts; ulimit -n > /nofile; ulimit -Hn >> /nofile; df -k /dev/shm | tail -1 > /shm; cat /proc/self/cgroup > /cg\n';
  try {
    await build(root(), ctx, dockerfile, ['-t', 'res:v1', '--add-host', 'db.internal:10.1.2.3', '--ulimit', 'nofile=1000:2000', '--shm-size', '128m', '--cgroup-parent', parent]);
  } finally {
    // The parent cgroup is the caller's to keep, as with docker; the test removes its own.
    for (const dir of [`/sys/fs/cgroup/${parent}`, ...['cpu', 'memory', 'pids', 'devices', 'freezer', 'blkio', 'cpuset', 'cpuacct', 'systemd', 'unified'].map((c) => `/sys/fs/cgroup/${c}/${parent}`)]) {
      await rmdir(dir).catch(() => undefined);
    }
  }
  const cat = async (f: string) => (await ok(['run', '--rm', 'res:v1', 'cat', f], { root: root() })).stdout;
  t.regex(await cat('/hosts'), /^10\.1\.2\.3\tdb\.internal$/m);
  t.regex(await cat('/hosts'), /^127\.0\.0\.1\tlocalhost buildkitsandbox$/m);
  t.is(await cat('/nofile'), '1000\n2000\n');
  t.regex(await cat('/shm'), /\s131072\s/);
  t.regex(await cat('/cg'), new RegExp(`/${parent}/tsbuild-run-[0-9a-f]+$`, 'm'));
  const bad = await tsbuild(['build', '--add-host', 'nohost', ctx], { root: root() });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /invalid --add-host "nohost": expected host:ip/);
  const badUlimit = await tsbuild(['build', '--ulimit', 'files=1', ctx], { root: root() });
  t.regex(badUlimit.stderr, /invalid --ulimit "files=1"/);
});

async function buildToStdout(args: string[], ctx: string): Promise<Buffer> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [TSBUILD_BIN, 'build', '--progress=plain', ...args, ctx], { env: { ...process.env, TSBUILD_ROOT: root(), CI: 'true' }, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`build exited ${r.status}: ${r.stderr.toString()}`);
  return r.stdout;
}

function blobOf(entries: TarEntry[], digest: string): Buffer {
  return entries.find((e) => e.name === `blobs/${digest.replace(':', '/')}`)!.data;
}

it('-o type=oci|docker without dest writes to stdout; compression=zstd and force-compression; --annotation', async (t) => {
  // A base image whose layers are stored gzip-compressed (as a pulled image's are).
  const baseCtx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo base > /base\n' });
  await build(root(), baseCtx, 'FROM busybox:latest\nRUN echo base > /base\n', ['-t', 'gzbase:src']);
  const gz = path.join(await scratch(), 'gz.tar');
  await ok(['save', '--compression', 'gzip', '-o', gz, 'gzbase:src'], { root: root() });
  await ok(['rmi', 'gzbase:src'], { root: root() });
  await ok(['load', '-i', gz], { root: root() });
  const ctx = await makeContext({ Dockerfile: 'FROM gzbase:src\nRUN echo top > /top\n' });

  const oci = await readTar(await buildToStdout(['-o', 'type=oci,compression=zstd', '--annotation', 'org.opencontainers.image.title=parity', '--annotation', 'manifest:com.example.k=v'], ctx));
  const index = JSON.parse(oci.find((e) => e.name === 'index.json')!.data.toString());
  const manifest = JSON.parse(blobOf(oci, index.manifests[0].digest).toString());
  const types = manifest.layers.map((l: { mediaType: string }) => l.mediaType.replace('application/vnd.oci.image.layer.v1.', ''));
  t.deepEqual(types, ['tar+gzip', 'tar+gzip', 'tar+zstd'], 'base layers keep gzip unless forced; ours are zstd');
  t.is(manifest.annotations['org.opencontainers.image.title'], 'parity');
  t.is(manifest.annotations['com.example.k'], 'v');
  // The zstd layer is a real zstd stream of the layer tar (its diff id).
  const { execFileSync } = await import('node:child_process');
  const config = JSON.parse(blobOf(oci, manifest.config.digest).toString());
  const tarBytes = execFileSync('zstd', ['-d', '-c', '-q'], { input: blobOf(oci, manifest.layers[2].digest) });
  t.is(sha256(tarBytes), config.rootfs.diff_ids[2]);

  const forced = await readTar(await buildToStdout(['-o', 'type=docker,compression=zstd,force-compression=true'], ctx));
  const fIndex = JSON.parse(forced.find((e) => e.name === 'index.json')!.data.toString());
  const fManifest = JSON.parse(blobOf(forced, fIndex.manifests[0].digest).toString());
  t.true(fManifest.layers.every((l: { mediaType: string }) => l.mediaType.endsWith('tar+zstd')));
  t.truthy(forced.find((e) => e.name === 'manifest.json'), 'a docker archive');

  const bad = await tsbuild(['build', '-o', 'type=oci,compression=brotli', ctx], { root: root() });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /unsupported compression "brotli"/);
  const badAnnotation = await tsbuild(['build', '--annotation', 'index:a=b', ctx], { root: root() });
  t.regex(badAnnotation.stderr, /index annotations are not supported/);
});

it('--provenance=false / --sbom=false / --attest ...,disabled=true are accepted; asking for an SBOM is a clear error', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN true\n' });
  await ok(['build', '--progress=plain', '--provenance=false', '--sbom=false', '--attest', 'type=provenance,disabled=true', ctx], { root: root() });
  for (const args of [['--sbom=true'], ['--attest', 'type=sbom']]) {
    const r = await tsbuild(['build', ...args, ctx], { root: root() });
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, /SBOM attestations are not supported by tsbuild/);
    t.notRegex(r.stderr, /#1 /, 'refused before the build starts');
  }
});
