// The frontend's semantic layer: stages, target pruning, ARG/ENV scoping,
// expansion, config and history, with a fake image resolver.
import test from 'ava';
import { buildGraph, parseDockerfile, DockerfileError, formatDockerfileError } from '../frontend/index.js';
import type { BaseImage, BuildGraph, ContainerConfig, CopyStep, Platform, RunStep, StagePlan } from '../frontend/index.js';

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };
const ARM64: Platform = { os: 'linux', architecture: 'arm64' };

const IMAGES: Record<string, { config: ContainerConfig; history?: string[] }> = {
  'docker.io/library/alpine:3.19': { config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'ALPINE=1'], Cmd: ['/bin/sh'] }, history: ['ADD alpine.tar /'] },
  'docker.io/library/golang:1.22': { config: { Env: ['PATH=/go/bin:/usr/bin', 'GOPATH=/go', 'GOLANG_VERSION=1.22'], WorkingDir: '/go' }, history: ['ADD go.tar /', 'ENV GOPATH=/go'] },
  'docker.io/library/node:20': { config: { Env: ['NODE=20'], Cmd: ['node'], User: 'node' } },
  'docker.io/library/busybox:1.36-arm64': { config: {} },
};

function fakeResolver(calls: string[] = []) {
  return async (ref: string, platform: Platform): Promise<BaseImage> => {
    calls.push(ref);
    const known = IMAGES[ref];
    if (!known) throw Object.assign(new Error(`pull access denied for ${ref}`), { userError: true });
    return {
      ref,
      platform,
      config: structuredClone(known.config),
      history: (known.history ?? []).map((created_by) => ({ created_by })),
    };
  };
}

interface Opts {
  buildArgs?: Record<string, string>;
  target?: string;
  platform?: Platform;
  labels?: Record<string, string>;
  calls?: string[];
}

function plan(text: string, o: Opts = {}): Promise<BuildGraph> {
  return buildGraph(parseDockerfile(text), {
    buildArgs: new Map(Object.entries(o.buildArgs ?? {})),
    ...(o.target !== undefined ? { target: o.target } : {}),
    platform: o.platform ?? AMD64,
    buildPlatform: AMD64,
    resolveImage: fakeResolver(o.calls),
    ...(o.labels ? { labels: new Map(Object.entries(o.labels)) } : {}),
  });
}

const runs = (s: StagePlan) => s.steps.filter((x): x is RunStep => x.kind === 'run');
const copies = (s: StagePlan) => s.steps.filter((x): x is CopyStep => x.kind === 'copy');
const envOf = (list: readonly string[] | undefined, name: string) =>
  list?.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
const ownHistory = (s: StagePlan) => s.history.filter((h) => h.comment === 'buildkit.dockerfile.v0').map((h) => h.created_by);

async function planError(t: { fail(msg: string): void }, text: string, o: Opts = {}): Promise<DockerfileError> {
  try {
    await plan(text, o);
  } catch (e) {
    if (e instanceof DockerfileError) return e;
    throw e;
  }
  t.fail('expected a DockerfileError');
  throw new Error('unreachable');
}

// ------------------------------------------------------------- stages

const MULTI = `FROM alpine:3.19 AS base
RUN echo base
FROM base AS build
RUN make
FROM golang:1.22 AS unused
RUN echo never
FROM scratch AS final
COPY --from=build /out /app
`;

test('the target needs only its stages, in dependency order; unused stages are not resolved', async (t) => {
  const calls: string[] = [];
  const g = await plan(MULTI, { calls });
  t.deepEqual(g.stages.map((s) => s.name), ['base', 'build', 'final']);
  t.is(g.target.name, 'final');
  t.deepEqual(calls, ['docker.io/library/alpine:3.19']);
  t.deepEqual(g.stages[1]!.base, { type: 'stage', index: 0 });
  t.deepEqual(copies(g.target)[0]!.from, { type: 'stage', index: 1 });
});

test('--target picks a stage by name, case-insensitively, and prunes what follows', async (t) => {
  const g = await plan(MULTI, { target: 'BUILD' });
  t.deepEqual(g.stages.map((s) => s.name), ['base', 'build']);
  t.is(g.target.index, 1);
  // The build stage inherits the base stage's history, which starts with the image's.
  t.deepEqual(g.target.history.map((h) => h.created_by), ['ADD alpine.tar /', 'RUN /bin/sh -c echo base # buildkit', 'RUN /bin/sh -c make # buildkit']);
});

test('an unknown --target lists the stages and suggests the closest', async (t) => {
  const e = await planError(t, MULTI, { target: 'biuld' });
  t.is(e.code, 'UNKNOWN_TARGET');
  t.regex(e.message, /target stage "biuld" could not be found \(did you mean build\?\)/);
  t.regex(e.message, /available stages: base, build, unused, final/);
});

test('COPY --from by stage index and by image reference', async (t) => {
  const g = await plan(`FROM alpine:3.19
RUN echo one
FROM scratch
COPY --from=0 /a /a
COPY --from=node:20 /usr/local/bin/node /node
`);
  const [byIndex, byImage] = copies(g.target);
  t.deepEqual(byIndex!.from, { type: 'stage', index: 0 });
  t.is(byImage!.from.type, 'image');
  if (byImage!.from.type === 'image') {
    t.is(byImage!.from.ref, 'docker.io/library/node:20');
    t.deepEqual(byImage!.from.image.config.Env, ['NODE=20']);
  }
  t.is(g.stages.length, 2);
});

test('COPY --from a later stage and a stage reading itself are errors with locations', async (t) => {
  const later = await planError(t, `FROM scratch AS a
COPY --from=b /x /x
FROM scratch AS b
`, { target: 'a' });
  t.is(later.code, 'STAGE_ORDER');
  t.is(later.message, 'cannot copy from stage "b", it needs to be defined before current stage "a"');
  t.is(later.location?.line, 2);

  const self = await planError(t, `FROM scratch AS a
COPY --from=a /x /x
`);
  t.is(self.code, 'STAGE_CYCLE');
  t.is(self.message, 'circular dependency detected on stage: a');
  t.is(self.location?.line, 2);
});

test('FROM naming a stage defined later is an error, not an image pull', async (t) => {
  const e = await planError(t, `FROM later AS first
FROM scratch AS later
`);
  t.is(e.code, 'FORWARD_STAGE_REFERENCE');
  t.is(e.location?.line, 1);
  t.regex(formatDockerfileError(e), /^Dockerfile:1:1: FROM later: stage "later" is defined later \(line 2\)/);
});

test('a bad image reference and an unknown image are located at FROM', async (t) => {
  const bad = await planError(t, 'FROM Alpine:3\n');
  t.is(bad.code, 'BAD_REFERENCE');
  t.regex(bad.message, /invalid reference format: repository name \(library\/Alpine\) must be lowercase/);
  const missing = await planError(t, 'FROM scratch\nRUN true\nFROM nothere:1\n');
  t.is(missing.code, 'BASE_IMAGE');
  t.is(missing.location?.line, 3);
  t.regex(missing.message, /pull access denied for docker.io\/library\/nothere:1/);
});

// ------------------------------------------------------------- args

test('global ARGs expand FROM; a stage sees them only after re-declaring', async (t) => {
  const g = await plan(`ARG IMG=alpine
ARG TAG=3.19
FROM \${IMG}:\${TAG}
RUN echo a
ARG TAG
RUN echo b
`);
  t.is(g.target.base.type === 'image' && g.target.base.ref, 'docker.io/library/alpine:3.19');
  const [before, after] = runs(g.target);
  t.is(envOf(before!.env, 'TAG'), undefined);
  t.is(envOf(after!.env, 'TAG'), '3.19');
  t.deepEqual(after!.visibleArgs, ['TAG']);
  t.is(g.target.history.at(-1)!.created_by, 'RUN |1 TAG=3.19 /bin/sh -c echo b # buildkit');
});

test('--build-arg overrides declared ARGs only; undeclared ones are reported unused', async (t) => {
  const g = await plan(`ARG TAG=3.18
FROM alpine:\${TAG}
ARG MODE=debug
RUN make
`, { buildArgs: { TAG: '3.19', MODE: 'release', EXTRA: 'x', HTTP_PROXY: 'http://proxy:3128', TARGETARCH: 'amd64' } });
  t.is(g.target.base.type === 'image' && g.target.base.ref, 'docker.io/library/alpine:3.19');
  const run = runs(g.target)[0]!;
  t.is(envOf(run.env, 'MODE'), 'release');
  t.is(envOf(run.env, 'EXTRA'), undefined);
  t.deepEqual(g.unusedBuildArgs, ['EXTRA']);
  t.deepEqual(g.buildArgsUsed, ['TAG', 'MODE']);
});

test('proxy args reach RUN without ARG but never history, config or visibleArgs', async (t) => {
  const g = await plan(`FROM alpine:3.19
ARG https_proxy
RUN wget x
`, { buildArgs: { HTTP_PROXY: 'http://p:1', https_proxy: 'http://p:2' } });
  const run = runs(g.target)[0]!;
  t.is(envOf(run.env, 'HTTP_PROXY'), 'http://p:1');
  t.is(envOf(run.env, 'http_proxy'), 'http://p:1');
  t.is(envOf(run.env, 'https_proxy'), 'http://p:2');
  t.deepEqual(run.visibleArgs, []);
  const history = JSON.stringify(g.target.history);
  t.false(history.includes('http://p'));
  t.false(JSON.stringify(g.target.config).includes('http://p'));
});

test('TARGETARCH works in FROM without ARG and in a stage after ARG TARGETARCH', async (t) => {
  const g = await plan(`FROM --platform=$BUILDPLATFORM busybox:1.36-$TARGETARCH AS tools
RUN echo $TARGETARCH
ARG TARGETARCH
ARG BUILDPLATFORM
RUN echo $TARGETARCH
`, { platform: ARM64 });
  t.is(g.target.base.type === 'image' && g.target.base.ref, 'docker.io/library/busybox:1.36-arm64');
  t.deepEqual(g.target.platform, AMD64, 'FROM --platform=$BUILDPLATFORM runs on the build platform');
  const [before, after] = runs(g.target);
  t.is(envOf(before!.env, 'TARGETARCH'), undefined);
  t.is(envOf(after!.env, 'TARGETARCH'), 'arm64');
  t.is(envOf(after!.env, 'BUILDPLATFORM'), 'linux/amd64');
});

test('ARG defaults expand with earlier variables; ENV set later wins over an ARG of the same name', async (t) => {
  const g = await plan(`FROM alpine:3.19
ARG A=one
ARG B=\${A}-two
ARG V=from-arg
ENV V=from-env
RUN echo
`);
  const run = runs(g.target)[0]!;
  t.is(envOf(run.env, 'B'), 'one-two');
  t.is(envOf(run.env, 'V'), 'from-env');
  t.is(envOf(g.target.config.Env, 'V'), 'from-env');
  t.is(envOf(g.target.config.Env, 'A'), undefined, 'ARGs never enter the config env');
  t.is(g.target.history.at(-1)!.created_by, 'RUN |3 A=one B=one-two V=from-env /bin/sh -c echo # buildkit');
});

test('a child stage inherits the ARGs and ENV of its base stage', async (t) => {
  const g = await plan(`FROM alpine:3.19 AS base
ARG VERSION=1.2
ENV HOME_DIR=/srv
FROM base
COPY app-\${VERSION}.tgz \${HOME_DIR}/
`);
  t.deepEqual(copies(g.target)[0]!.sources, ['app-1.2.tgz']);
  t.is(copies(g.target)[0]!.dest, '/srv/');
});

// ------------------------------------------------------------- env & expansion

test('base image ENV is visible to expansion in COPY, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL', async (t) => {
  const g = await plan(`FROM golang:1.22
ARG PORT=8080
ENV APP=demo USER_NAME=gopher
WORKDIR $GOPATH/src/$APP
COPY --chown=\${USER_NAME}:0 --chmod=755 ./\${APP} ./bin/
USER $USER_NAME
LABEL version=\${GOLANG_VERSION} "app name"="$APP"
EXPOSE $PORT 9000/udp 7000-7001
VOLUME /data/$APP
STOPSIGNAL SIG\${SIG:-TERM}
`);
  const c = g.target.config;
  t.is(c.WorkingDir, '/go/src/demo');
  t.is(c.User, 'gopher');
  t.deepEqual(c.Labels, { version: '1.22', 'app name': 'demo' });
  t.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['8080/tcp', '9000/udp', '7000/tcp', '7001/tcp']);
  t.deepEqual(c.Volumes, { '/data/demo': {} });
  t.is(c.StopSignal, 'SIGTERM');
  const copy = copies(g.target)[0]!;
  t.deepEqual(copy.sources, ['./demo']);
  t.is(copy.dest, '/go/src/demo/bin/');
  t.is(copy.chown, 'gopher:0');
  t.is(copy.chmod, '755');
  t.deepEqual(ownHistory(g.target), [
    'ARG PORT=8080',
    'ENV APP=demo USER_NAME=gopher',
    'WORKDIR /go/src/demo',
    'COPY --chown=gopher:0 --chmod=755 ./demo ./bin/ # buildkit',
    'USER gopher',
    'LABEL version=1.22 app name=demo',
    'EXPOSE map[7000/tcp:{} 7001/tcp:{} 8080/tcp:{} 9000/udp:{}]', // BuildKit 0.13: the Go map, keys sorted
    'VOLUME [/data/demo]',
    'STOPSIGNAL SIGTERM',
  ]);
});

test('${X:?msg} fails with the instruction location', async (t) => {
  const e = await planError(t, `FROM alpine:3.19
ARG X
COPY \${X:?need-X} /dst
`);
  t.is(e.code, 'EXPANSION');
  t.is(e.location?.line, 3);
  t.regex(formatDockerfileError(e), /^Dockerfile:3:1: failed to process "\$\{X:\?need-X\}": X: need-X\n 3 \| COPY/);
});

test('RUN env: image env, ARGs and ENV in order; workdir and user follow the stage', async (t) => {
  const g = await plan(`FROM node:20
WORKDIR /app
ARG NODE_ENV=production
RUN npm ci
USER root
RUN id
`);
  const [ci, id] = runs(g.target);
  t.deepEqual(ci!.env, ['NODE=20', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production']);
  t.is(ci!.workdir, '/app');
  t.is(ci!.user, 'node');
  t.is(id!.user, 'root');
  t.deepEqual(g.target.config.Env, ['NODE=20', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
});

// ------------------------------------------------------------- config & history

test('FROM scratch starts from BuildKit defaults; metadata history is empty_layer', async (t) => {
  const g = await plan(`FROM scratch
ENV A=b
CMD ["run", "me"]
`);
  t.deepEqual(g.target.config, { WorkingDir: '/', Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=b'], Cmd: ['run', 'me'], ArgsEscaped: true });
  t.deepEqual(g.target.history, [
    { created_by: 'ENV A=b', comment: 'buildkit.dockerfile.v0', empty_layer: true },
    { created_by: 'CMD ["run" "me"]', comment: 'buildkit.dockerfile.v0', empty_layer: true },
  ]);
  t.deepEqual(g.target.platform, AMD64);
});

test('ENTRYPOINT resets an inherited CMD but keeps one set in the same stage', async (t) => {
  const reset = await plan('FROM alpine:3.19\nENTRYPOINT ["/app"]\n');
  t.is(reset.target.config.Cmd, null);
  const kept = await plan('FROM alpine:3.19\nCMD ["--help"]\nENTRYPOINT /app serve\n');
  t.deepEqual(kept.target.config.Cmd, ['--help']);
  t.deepEqual(kept.target.config.Entrypoint, ['/bin/sh', '-c', '/app serve']);
  t.is(kept.target.history.at(-1)!.created_by, 'ENTRYPOINT ["/bin/sh" "-c" "/app serve"]');
});

test('SHELL changes how shell-form RUN and CMD are wrapped', async (t) => {
  const g = await plan(`FROM alpine:3.19
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]
RUN make | tee log
CMD serve
`);
  t.deepEqual(runs(g.target)[0]!.args, ['/bin/bash', '-eo', 'pipefail', '-c', 'make | tee log']);
  t.deepEqual(g.target.config.Cmd, ['/bin/bash', '-eo', 'pipefail', '-c', 'serve']);
  t.true(ownHistory(g.target).includes('SHELL [/bin/bash -eo pipefail -c]'));
});

test('HEALTHCHECK durations in nanoseconds and BuildKit history text; NONE disables', async (t) => {
  const g = await plan(`FROM alpine:3.19
HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://localhost/ || exit 1
`);
  t.deepEqual(g.target.config.Healthcheck, {
    Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
    Interval: 30e9,
    Timeout: 90e9,
    Retries: 3,
  });
  t.is(
    g.target.history.at(-1)!.created_by,
    'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "1m30s" "0s" "0s" \'\\x03\'}',
  );
  const none = await plan('FROM alpine:3.19\nHEALTHCHECK NONE\n');
  t.deepEqual(none.target.config.Healthcheck, { Test: ['NONE'] });
  t.is(none.target.history.at(-1)!.created_by, `HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" '\\x00'}`);
  const many = await plan('FROM alpine:3.19\nHEALTHCHECK --retries=65 CMD ["t"]\n');
  t.is(many.target.history.at(-1)!.created_by, `HEALTHCHECK &{["CMD" "t"] "0s" "0s" "0s" "0s" 'A'}`);
});

test('WORKDIR is relative to the previous one; WORKDIR / makes no step', async (t) => {
  const g = await plan(`FROM scratch
WORKDIR /a
WORKDIR b/../c
WORKDIR /
`);
  t.deepEqual(g.target.steps.map((s) => s.kind === 'workdir' && s.path), ['/a', '/a/c']);
  t.deepEqual(g.target.history.map((h) => [h.created_by, h.empty_layer ?? false]), [
    ['WORKDIR /a', false],
    ['WORKDIR /a/c', false],
    ['WORKDIR /', true],
  ]);
});

test('--label applies to the target; ONBUILD is recorded; MAINTAINER sets the author', async (t) => {
  const g = await plan(`FROM alpine:3.19
LABEL a=1
ONBUILD RUN echo child
MAINTAINER Jane <jane@example.com>
`, { labels: { a: '2', b: '3' } });
  t.deepEqual(g.target.config.Labels, { a: '2', b: '3' });
  t.deepEqual(g.target.config.OnBuild, ['RUN echo child']);
  t.is((g.target as { author?: string }).author, 'Jane <jane@example.com>');
  t.deepEqual(ownHistory(g.target), ['LABEL a=1', 'MAINTAINER Jane <jane@example.com>']);
});

test('history: non-empty entries match steps one to one', async (t) => {
  const g = await plan(`FROM alpine:3.19
ENV X=1
RUN a
WORKDIR /w
COPY . .
ADD https://example.com/f.tgz /opt/
USER nobody
`);
  const layered = g.target.history.filter((h) => h.comment && !h.empty_layer);
  t.is(layered.length, g.target.steps.length);
  t.deepEqual(layered.map((h) => h.created_by), [
    'RUN /bin/sh -c a # buildkit',
    'WORKDIR /w',
    'COPY . . # buildkit',
    'ADD https://example.com/f.tgz /opt/ # buildkit',
  ]);
  const add = copies(g.target)[1]!;
  t.true(add.add);
  t.is(add.dest, '/opt/');
  t.is(copies(g.target)[0]!.dest, '/w/');
});

test('ENV and LABEL expand every word against the variables from before the instruction', async (t) => {
  const g = await plan(`FROM scratch
ENV A=first
ENV A=second B=$A
LABEL A=l1 ${'$'}{A}=k x=$A
`);
  t.is(envOf(g.target.config.Env, 'A'), 'second');
  t.is(envOf(g.target.config.Env, 'B'), 'first');
  t.deepEqual(g.target.config.Labels, { A: 'l1', second: 'k', x: 'second' });
  t.true(ownHistory(g.target).includes('ENV A=second B=first'));
});

test('ARG history shows the expanded default, not the --build-arg value', async (t) => {
  const g = await plan(`FROM scratch
ARG BASE=v
ARG V=\${BASE}1 NODEF
RUN echo $V $NODEF
`, { buildArgs: { V: '2', NODEF: 'x' } });
  t.deepEqual(ownHistory(g.target).slice(0, 2), ['ARG BASE=v', 'ARG V=v1 NODEF']);
  t.is(runs(g.target)[0]!.env.find((e) => e.startsWith('V=')), 'V=2');
});
