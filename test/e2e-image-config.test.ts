// End to end: the image config and history `tsbuild build` writes, read back
// through `tsbuild inspect` / `tsbuild history` and the raw config of an OCI
// export; ONBUILD triggers fired by a second build; whiteouts in layer tars.
import test from 'ava';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite } from './helpers/cli.js';
import { build, layerEntries, makeContext, ok, readOciTar, scratch } from './e2e-image-helpers.js';

const suite = storeSuite('e2e image config');
const { it } = suite;

const CONFIG_DOCKERFILE = `FROM busybox:latest
ENV A=1 B="two words"
USER app:app
WORKDIR /srv/app
CMD ["serve"]
LABEL com.example.a=1 com.example.b="x y"
EXPOSE 8080 53/udp
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD ["/bin/true"]
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered > /tmp/onbuild-ran
ENTRYPOINT ["/bin/echo"]
`;

it('metadata instructions and --label land in the config; ENTRYPOINT resets the inherited CMD', async (t) => {
  const ctx = await makeContext({});
  await build(suite.store.root, ctx, CONFIG_DOCKERFILE, ['-t', 'cfg:v1', '--label', 'com.example.cli=yes']);
  const [info] = JSON.parse((await ok(['inspect', 'cfg:v1'], { root: suite.store.root })).stdout);
  const c = info.Config;
  t.deepEqual(c.Env.slice(1), ['A=1', 'B=two words']);
  t.regex(c.Env[0], /^PATH=/);
  t.is(c.User, 'app:app');
  t.is(c.WorkingDir, '/srv/app');
  t.deepEqual(c.Entrypoint, ['/bin/echo']);
  t.deepEqual(c.Cmd, ['serve'], 'a CMD set in the same stage survives ENTRYPOINT');
  t.deepEqual(c.Labels, { 'com.example.a': '1', 'com.example.b': 'x y', 'com.example.cli': 'yes' });
  t.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '53/udp': {} });
  t.deepEqual(c.Volumes, { '/data': {}, '/logs': {} });
  t.is(c.StopSignal, 'SIGTERM');
  t.deepEqual(c.Healthcheck.Test, ['CMD', '/bin/true']);
  t.is(c.Healthcheck.Interval, 5e9);
  t.is(c.Healthcheck.Timeout, 2e9);
  t.is(c.Healthcheck.Retries, 3);
  t.deepEqual(c.Shell, ['/bin/sh', '-ec']);
  t.deepEqual(c.OnBuild, ['RUN echo triggered > /tmp/onbuild-ran']);
});

it('ENTRYPOINT resets a CMD inherited from the base image, not one set after it', async (t) => {
  const ctx = await makeContext({});
  await build(suite.store.root, ctx, 'FROM busybox:latest\nCMD ["base-cmd"]\n', ['-t', 'cmdbase:v1']);
  await build(suite.store.root, ctx, 'FROM cmdbase:v1\nENTRYPOINT ["/bin/echo"]\n', ['-t', 'cmdreset:v1']);
  await build(suite.store.root, ctx, 'FROM cmdbase:v1\nENTRYPOINT ["/bin/echo"]\nCMD ["again"]\n', ['-t', 'cmdkept:v1']);
  const cfg = async (ref: string) => JSON.parse((await ok(['inspect', ref], { root: suite.store.root })).stdout)[0].Config;
  t.deepEqual((await cfg('cmdbase:v1')).Cmd, ['base-cmd']);
  t.falsy((await cfg('cmdreset:v1')).Cmd);
  t.deepEqual((await cfg('cmdkept:v1')).Cmd, ['again']);
});

it('history: one entry per instruction, empty_layer where no layer was made, BuildKit created_by', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'f' });
  const dest = path.join(await scratch('tsbuild-out-'), 'img.tar');
  await build(suite.store.root, ctx, `FROM busybox:latest
ARG V=1
ENV E=\${V}
WORKDIR /w
COPY f.txt .
RUN echo x > /x
LABEL l=1
CMD ["sh"]
`, ['-o', `type=oci,dest=${dest}`]);
  const img = await readOciTar(dest);
  const mine = img.config.history!.slice(-7);
  t.deepEqual(
    mine.map((h) => [h.created_by, Boolean(h.empty_layer)]),
    [
      ['ARG V=1', true],
      ['ENV E=1', true],
      ['WORKDIR /w', false],
      ['COPY f.txt . # buildkit', false],
      ['RUN |1 V=1 /bin/sh -c echo x > /x # buildkit', false],
      ['LABEL l=1', true],
      ['CMD ["sh"]', true],
    ],
  );
  for (const h of mine) t.is(h.comment, 'buildkit.dockerfile.v0');
  t.is(img.config.history!.filter((h) => !h.empty_layer).length, img.manifest.layers.length);
});

it('`tsbuild history` lists the steps newest first with sizes and <missing> parents', async (t) => {
  const ctx = await makeContext({ 'f.txt': 'content' });
  await build(suite.store.root, ctx, 'FROM busybox:latest\nCOPY f.txt /f.txt\nENV X=1\n', ['-t', 'hist:v1']);
  const out = (await ok(['history', 'hist:v1'], { root: suite.store.root })).stdout.trim().split('\n');
  t.regex(out[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/);
  t.regex(out[1]!, /^[0-9a-f]{12}\s.*ENV X=1\s+0B/);
  t.regex(out[2]!, /^<missing>\s.*COPY f\.txt \/f\.txt # buildkit\s+\d/);
  t.regex(out.at(-1)!, /busybox-static from Debian/);
});

it('ONBUILD triggers run in a build FROM the image, and are not inherited further', async (t) => {
  const ctx = await makeContext({});
  await build(suite.store.root, ctx, 'FROM busybox:latest\nONBUILD RUN echo triggered > /onbuild-ran\nONBUILD ENV FROM_TRIGGER=yes\n', ['-t', 'onbuild-base:v1']);
  const out = path.join(await scratch('tsbuild-out-'), 'rootfs');
  const dest = path.join(await scratch('tsbuild-out-'), 'img.tar');
  await build(suite.store.root, ctx, 'FROM onbuild-base:v1\nRUN test -f /onbuild-ran\n', ['-t', 'onbuild-child:v1', '-o', `type=local,dest=${out}`, '-o', `type=oci,dest=${dest}`]);
  t.is(await readFile(path.join(out, 'onbuild-ran'), 'utf8'), 'triggered\n');
  const img = await readOciTar(dest);
  t.falsy(img.config.config?.OnBuild);
  t.true((img.config.config?.Env as string[]).includes('FROM_TRIGGER=yes'));
});

it('whiteouts: a deleted base file and a replaced directory', async (t) => {
  const ctx = await makeContext({});
  const dest = path.join(await scratch('tsbuild-out-'), 'img.tar');
  const out = path.join(await scratch('tsbuild-out-'), 'rootfs');
  await build(suite.store.root, ctx, `FROM busybox:latest
RUN rm /etc/os-release
RUN rm -rf /home/app && mkdir /home/app && touch /home/app/new
`, ['-o', `type=oci,dest=${dest}`, '-o', `type=local,dest=${out}`]);
  const img = await readOciTar(dest);
  const layers = await layerEntries(img);
  const [rmLayer, replaceLayer] = layers.slice(-2).map((l) => l.map((e) => e.name));
  t.true(rmLayer!.includes('etc/.wh.os-release'), rmLayer!.join(' '));
  t.true(replaceLayer!.includes('home/app/.wh..wh..opq'), replaceLayer!.join(' '));
  t.true(replaceLayer!.includes('home/app/new'));
  // The opaque marker comes before the directory's new entries, as the OCI spec asks.
  t.true(replaceLayer!.indexOf('home/app/.wh..wh..opq') < replaceLayer!.indexOf('home/app/new'));
  await t.throwsAsync(access(path.join(out, 'etc/os-release')));
  await access(path.join(out, 'etc/passwd'));
  await access(path.join(out, 'home/app/new'));
});
