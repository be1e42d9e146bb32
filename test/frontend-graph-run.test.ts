// RUN (heredocs, mounts, network), COPY heredocs and ONBUILD triggers,
// planned with a fake image resolver.
import test from 'ava';
import { buildGraph, parseDockerfile, DockerfileError } from '../frontend/index.js';
import type { BaseImage, BuildGraph, ContainerConfig, CopyStep, Platform, RunStep, StagePlan } from '../frontend/index.js';

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };

const IMAGES: Record<string, ContainerConfig> = {
  'docker.io/library/alpine:3.19': { Env: ['PATH=/usr/bin:/bin'] },
  'docker.io/library/tools:1': { Env: ['PATH=/usr/bin:/bin'] },
  'example.com/base/onbuild:1': {
    Env: ['PATH=/usr/bin:/bin'],
    WorkingDir: '/src',
    OnBuild: ['COPY . /src/', 'RUN make -C /src', 'COPY --from=tools:1 /bin/tool /usr/bin/tool'],
  },
  'example.com/base/broken:1': { OnBuild: ['RUN --mount=type=cache,target=${X:?oops} true'] },
};

async function resolveImage(ref: string, platform: Platform): Promise<BaseImage> {
  const config = IMAGES[ref];
  if (!config) throw Object.assign(new Error(`not found: ${ref}`), { userError: true });
  return { ref, platform, config: structuredClone(config), history: [{ created_by: `base ${ref}` }] };
}

function plan(text: string, buildArgs: Record<string, string> = {}, target?: string): Promise<BuildGraph> {
  return buildGraph(parseDockerfile(text), {
    buildArgs: new Map(Object.entries(buildArgs)),
    ...(target ? { target } : {}),
    platform: AMD64,
    buildPlatform: AMD64,
    resolveImage,
  });
}

const runs = (s: StagePlan) => s.steps.filter((x): x is RunStep => x.kind === 'run');
const copies = (s: StagePlan) => s.steps.filter((x): x is CopyStep => x.kind === 'copy');

// ------------------------------------------------------------- heredocs

test('RUN with one heredoc runs its body as the shell script', async (t) => {
  const g = await plan(`FROM alpine:3.19
RUN <<EOF
apk add curl
echo done
EOF
`);
  const run = runs(g.target)[0]!;
  t.deepEqual(run.args, ['/bin/sh', '-c', 'apk add curl\necho done\n']);
  t.deepEqual(run.files, []);
  t.is(run.display, 'RUN <<EOF (apk add curl...)');
  t.is(g.target.history.at(-1)!.created_by, 'RUN /bin/sh -c apk add curl\necho done\n # buildkit');
});

test('RUN heredoc with a shebang becomes an executable file run by path (<<- strips tabs)', async (t) => {
  const g = await plan(`FROM alpine:3.19
RUN <<-SCRIPT
\t#!/usr/bin/env python3
\tprint("hi")
\tSCRIPT
`);
  const run = runs(g.target)[0]!;
  t.deepEqual(run.files, [{ path: '/dev/pipes/SCRIPT', content: '#!/usr/bin/env python3\nprint("hi")\n', mode: 0o755 }]);
  t.deepEqual(run.args, ['/bin/sh', '-c', '/dev/pipes/SCRIPT']);
});

test('RUN with a command around heredocs passes the re-assembled text to the shell', async (t) => {
  const g = await plan(`FROM alpine:3.19
RUN python3 <<PY > out.txt && cat <<TXT
print(1)
PY
hello
TXT
`);
  t.deepEqual(runs(g.target)[0]!.args, ['/bin/sh', '-c', 'python3 <<PY > out.txt && cat <<TXT\nprint(1)\nPY\nhello\nTXT']);
});

test('COPY heredoc sources: expanded unless the terminator is quoted', async (t) => {
  const g = await plan(`FROM alpine:3.19
ARG NAME=world
COPY <<greeting.txt <<'raw.txt' /etc/
hello $NAME
greeting.txt
keep $NAME
raw.txt
`);
  const copy = copies(g.target)[0]!;
  t.deepEqual(copy.heredocs, [
    { name: 'greeting.txt', content: 'hello world\n' },
    { name: 'raw.txt', content: 'keep $NAME\n' },
  ]);
  t.deepEqual(copy.sources, []);
  t.is(g.target.history.at(-1)!.created_by, 'COPY <<greeting.txt <<raw.txt /etc/ # buildkit');
});

// ------------------------------------------------------------- mounts

test('RUN --mount: bind from a stage, cache defaults, secret and ssh defaults, expanded values', async (t) => {
  const g = await plan(`FROM alpine:3.19 AS deps
RUN echo deps
FROM alpine:3.19
WORKDIR /work
ARG CACHE_DIR=/root/.cache
RUN --mount=type=bind,from=deps,source=/out,target=deps \\
    --mount=type=cache,target=\${CACHE_DIR} \\
    --mount=type=secret,id=npmrc \\
    --mount=type=secret,id=token,env=TOKEN,required \\
    --mount=type=ssh \\
    --mount=type=tmpfs,target=/tmp,size=64m \\
    --network=none make
`);
  const run = runs(g.target)[0]!;
  t.is(run.network, 'none');
  t.deepEqual(run.mounts, [
    { type: 'bind', target: '/work/deps', source: '/out', from: { type: 'stage', index: 0 }, readonly: true },
    { type: 'cache', target: '/root/.cache', readonly: false, id: '/root/.cache', sharing: 'shared' },
    { type: 'secret', target: '/run/secrets/npmrc', id: 'npmrc', required: false, readonly: true },
    { type: 'secret', target: '', id: 'token', required: true, env: 'TOKEN', readonly: true },
    { type: 'ssh', target: '/run/buildkit/ssh_agent.0', id: 'default', required: false, readonly: true },
    { type: 'tmpfs', target: '/tmp', readonly: false, size: 64 * 1024 * 1024 },
  ]);
  t.true(run.display.startsWith('RUN --mount=type=bind,from=deps'));
});

test('RUN --mount from= an image, and a bind mount defaults to the context', async (t) => {
  const g = await plan(`FROM alpine:3.19
RUN --mount=from=tools:1,target=/t --mount=target=/ctx true
`);
  const [image, context] = runs(g.target)[0]!.mounts;
  t.is(image!.from?.type === 'image' && image!.from.ref, 'docker.io/library/tools:1');
  t.deepEqual(context!.from, { type: 'context' });
});

test('RUN --mount from= a later stage fails at the RUN line', async (t) => {
  const e = await t.throwsAsync(plan(`FROM alpine:3.19 AS a
RUN --mount=from=b,target=/b true
FROM alpine:3.19 AS b
`, {}, 'a'));
  t.true(e instanceof DockerfileError);
  t.is((e as DockerfileError).code, 'STAGE_ORDER');
  t.is((e as DockerfileError).location?.line, 2);
});

// ------------------------------------------------------------- ONBUILD

test('ONBUILD triggers of a base image run first, then are cleared', async (t) => {
  const g = await plan(`FROM example.com/base/onbuild:1
RUN echo mine
`);
  t.is(g.target.config.OnBuild, undefined);
  t.deepEqual(g.target.steps.map((s) => s.kind), ['copy', 'run', 'copy', 'run']);
  const [ctxCopy, toolCopy] = copies(g.target);
  t.is(ctxCopy!.dest, '/src/');
  t.is(toolCopy!.from.type === 'image' && toolCopy!.from.ref, 'docker.io/library/tools:1');
  t.deepEqual(runs(g.target).map((r) => r.args[2]), ['make -C /src', 'echo mine']);
  t.is(runs(g.target)[0]!.loc.line, 1, 'trigger steps point at the FROM line');
});

test('ONBUILD instructions of a base stage run in the child stage', async (t) => {
  const g = await plan(`FROM alpine:3.19 AS base
ONBUILD RUN echo triggered
RUN echo base
FROM base
RUN echo child
`);
  t.deepEqual(g.stages[0]!.config.OnBuild, ['RUN echo triggered']);
  t.is(g.target.config.OnBuild, undefined);
  t.deepEqual(runs(g.target).map((r) => r.args[2]), ['echo triggered', 'echo child']);
});

test('an error inside a base image trigger points at the FROM line', async (t) => {
  const e = await t.throwsAsync(plan('FROM alpine:3.19\nRUN true\nFROM example.com/base/broken:1\n'));
  t.true(e instanceof DockerfileError);
  t.is((e as DockerfileError).location?.line, 3);
  t.regex(e!.message, /oops/);
});
