// Lint rules (BuildKit's names, messages, URLs, `# check=` directives) and
// the `--call targets|outline|check` reports.
import test from 'ava';
import {
  buildGraph, checkDockerfile, formatCheckResult, formatOutline, formatTargets, listTargets, outlineBuild,
  parseDockerfile, runCallMode, DockerfileError,
} from '../frontend/index.js';
import type { BaseImage, BuildGraphOptions, LintWarning, Platform } from '../frontend/index.js';

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };

async function resolveImage(ref: string, platform: Platform): Promise<BaseImage> {
  const env = ['PATH=/usr/local/bin:/usr/bin:/bin', 'PYTHON_VERSION=3.12'];
  const imagePlatform = ref.includes('arm-only') ? { os: 'linux', architecture: 'arm64' } : platform;
  return { ref, platform: imagePlatform, config: { Env: env }, history: [] };
}

function options(extra: Partial<BuildGraphOptions> = {}): BuildGraphOptions {
  return { buildArgs: new Map(), platform: AMD64, buildPlatform: AMD64, resolveImage, ...extra };
}

async function lint(text: string, extra: Partial<BuildGraphOptions> = {}): Promise<LintWarning[]> {
  const result = await checkDockerfile(parseDockerfile(text), options(extra));
  if (result.error) throw result.error;
  return [...result.warnings];
}

const summary = (ws: readonly LintWarning[]) => ws.map((w) => `${w.rule}@${w.loc?.line}: ${w.message}`);

// One Dockerfile per rule: the warning it must produce, then the same file with the rule skipped.
const CASES: Array<{ rule: string; text: string; line: number; message: string }> = [
  { rule: 'LegacyKeyValueFormat', text: 'FROM alpine:3\nENV key value\n', line: 2, message: '"ENV key=value" should be used instead of legacy "ENV key value" format' },
  { rule: 'FromAsCasing', text: 'FROM alpine:3 as build\n', line: 1, message: "'as' and 'FROM' keywords' casing do not match" },
  { rule: 'UndefinedVar', text: 'FROM python:3.12\nENV PATH=$PAHT:/app\nARG V=$PYTHON_VERSION\n', line: 2, message: "Usage of undefined variable '$PAHT' (did you mean $PATH?)" },
  { rule: 'JSONArgsRecommended', text: 'FROM alpine:3\nCMD serve --port 80\n', line: 2, message: 'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals' },
  { rule: 'StageNameCasing', text: 'FROM alpine:3 AS Build\n', line: 1, message: "Stage name 'Build' should be lowercase" },
  { rule: 'MaintainerDeprecated', text: 'FROM alpine:3\nMAINTAINER me\n', line: 2, message: 'Maintainer instruction is deprecated in favor of using label' },
  { rule: 'WorkdirRelativePath', text: 'FROM alpine:3\nWORKDIR app/\n', line: 2, message: 'Relative workdir "app/" can have unexpected results if the base image changes' },
  { rule: 'UndefinedArgInFrom', text: 'ARG MY_ARCH=amd64\nFROM alpine:3-$MYARCH\n', line: 2, message: "FROM argument 'MYARCH' is not declared (did you mean MY_ARCH?)" },
  { rule: 'ReservedStageName', text: 'FROM alpine:3 AS context\n', line: 1, message: 'Stage name should not use the same name as reserved stage "context"' },
  { rule: 'ConsistentInstructionCasing', text: 'FROM alpine:3\nRUN true\nrun false\n', line: 3, message: "Command 'run' should match the case of the command majority (uppercase)" },
  { rule: 'NoEmptyContinuation', text: 'FROM alpine:3\nRUN echo a \\\n\n  b\n', line: 2, message: 'Empty continuation line' },
  { rule: 'MultipleInstructionsDisallowed', text: 'FROM alpine:3\nCMD ["a"]\nCMD ["b"]\n', line: 2, message: 'Multiple CMD instructions should not be used in the same stage because only the last one will be used' },
  { rule: 'SecretsUsedInArgOrEnv', text: 'FROM alpine:3\nARG GITHUB_TOKEN\n', line: 2, message: 'Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")' },
  { rule: 'UntaggedOrLatestBaseImage', text: 'FROM busybox\n', line: 1, message: "Base image 'busybox' has no tag; pin a version tag or a digest so rebuilds stay reproducible" },
  { rule: 'InvalidBaseImagePlatform', text: 'FROM arm-only:1\n', line: 1, message: 'Base image arm-only:1 was pulled with platform "linux/arm64", expected "linux/amd64" for current build' },
];

for (const c of CASES) {
  test(`${c.rule} fires with BuildKit's message, and # check=skip silences it`, async (t) => {
    const ws = (await lint(c.text)).filter((w) => w.rule === c.rule);
    t.deepEqual(summary(ws), [`${c.rule}@${c.line}: ${c.message}`]);
    // Two rules have no docs page: ours, and BuildKit's InvalidBaseImagePlatform.
    if (c.rule !== 'UntaggedOrLatestBaseImage' && c.rule !== 'InvalidBaseImagePlatform') {
      const slug = c.rule.replace(/([a-z])([A-Z])/g, '$1-$2').replace(/JSONArgs/, 'json-args').toLowerCase();
      t.is(ws[0]!.url, `https://docs.docker.com/go/dockerfile/rule/${slug}/`);
    }
    t.deepEqual(summary((await lint(`# check=skip=${c.rule}\n${c.text}`)).filter((w) => w.rule === c.rule)), []);
  });
}

test('clean Dockerfiles produce no warnings', async (t) => {
  t.deepEqual(await lint('FROM alpine:3.19 AS build\nARG foo\nCOPY Dockerfile${foo} .\nWORKDIR /app\nCMD ["x"]\n'), []);
  // A WORKDIR set absolute in a base stage covers relative ones after it.
  t.deepEqual(await lint('FROM scratch AS a\nWORKDIR /app\nFROM a AS b\nWORKDIR sub/\n'), []);
});

test('FROM x:latest and FROM busybox are flagged; digests, stages and scratch are not', async (t) => {
  t.deepEqual(summary(await lint('FROM alpine:latest\n')), [
    "UntaggedOrLatestBaseImage@1: Base image 'alpine:latest' uses the 'latest' tag; pin a version tag or a digest so rebuilds stay reproducible",
  ]);
  const pinned = `FROM alpine@sha256:${'a'.repeat(64)} AS base\nFROM base\nFROM scratch\n`;
  t.deepEqual(await lint(pinned), []);
});

test('skip=all, several rules, and a per-instruction # check comment', async (t) => {
  const text = 'FROM alpine:3 as build\nMAINTAINER me\n# check=skip=WorkdirRelativePath\nWORKDIR rel\nWORKDIR rel2\n';
  t.deepEqual((await lint(text)).map((w) => w.rule), ['FromAsCasing', 'MaintainerDeprecated']);
  t.deepEqual(await lint(`# check=skip=all\n${text}`), []);
  t.deepEqual(await lint(`# check=skip=FromAsCasing,MaintainerDeprecated\n${text}`), []);
});

test('warnings are part of a normal build graph; error=true fails the build', async (t) => {
  const text = 'FROM alpine:3\nENV a b\n';
  const g = await buildGraph(parseDockerfile(text), options());
  t.deepEqual(g.warnings.map((w) => w.rule), ['LegacyKeyValueFormat']);
  const e = await t.throwsAsync(buildGraph(parseDockerfile(`# check=error=true\n${text}`), options()));
  t.true(e instanceof DockerfileError);
  t.is((e as DockerfileError).code, 'LINT_FAILED');
  t.is(e!.message, 'lint violation found for rules: LegacyKeyValueFormat');
});

test('check without --target lints every stage; with --target only the ones needed', async (t) => {
  const text = 'FROM alpine:3 AS a\nENV k v\nFROM alpine:3 AS b\nCMD run\n';
  t.deepEqual((await lint(text)).map((w) => w.rule), ['LegacyKeyValueFormat', 'JSONArgsRecommended']);
  t.deepEqual((await lint(text, { target: 'b' })).map((w) => w.rule), ['JSONArgsRecommended']);
});

test('duplicate stage names are an error', (t) => {
  const e = t.throws(() => parseDockerfile('FROM alpine:3 AS a\nFROM alpine:3 AS a\n'));
  t.true(e instanceof DockerfileError);
});

test('check report: buildx text, exit code, build errors', async (t) => {
  const text = 'FROM alpine:3\nRUN echo a\nWORKDIR app\nRUN echo b\n';
  const result = await checkDockerfile(parseDockerfile(text), options());
  t.is(result.exitCode, 1);
  t.is(
    formatCheckResult(result, text),
    [
      'Check complete, 1 warning has been found!',
      '',
      'WARNING: WorkdirRelativePath - https://docs.docker.com/go/dockerfile/rule/workdir-relative-path/',
      'Relative workdir "app" can have unexpected results if the base image changes',
      'Dockerfile:3',
      '--------------------',
      '   1 |     FROM alpine:3',
      '   2 |     RUN echo a',
      '   3 | >>> WORKDIR app',
      '   4 |     RUN echo b',
      '   5 |     ',
      '--------------------',
      '',
    ].join('\n'),
  );
  const clean = await checkDockerfile(parseDockerfile('FROM alpine:3\n'), options());
  t.is(clean.exitCode, 0);
  t.is(formatCheckResult(clean), 'Check complete, no warnings found.\n');

  const broken = await checkDockerfile(parseDockerfile('FROM alpine:3\nCOPY ${X:?needed} .\n'), options());
  t.is(broken.exitCode, 1);
  t.regex(formatCheckResult(broken), /ERROR: Dockerfile:2:1: failed to process "\$\{X:\?needed\}": X: needed/);
});

// ------------------------------------------------------------- targets / outline

const DOCUMENTED = `# Build-time settings
ARG GO_VERSION=1.22
# VERSION the version stamped into the binary
ARG VERSION=dev
ARG UNUSED_GLOBAL=x

# build compiles the server
FROM golang:\${GO_VERSION} AS build
# GOOS target operating system
ARG GOOS=linux
ARG VERSION
RUN --mount=type=secret,id=netrc,required --mount=type=ssh,id=github go build

# test runs the unit tests
FROM build AS test
RUN go test ./...

FROM scratch AS release
COPY --from=build /out/app /app
`;

test('targets: names, descriptions from "# <name> ..." comments, default marker', (t) => {
  const targets = listTargets(parseDockerfile(DOCUMENTED));
  t.deepEqual(targets.map((x) => [x.name, x.description, x.isDefault, x.base, x.line]), [
    ['build', 'compiles the server', false, 'golang:${GO_VERSION}', 8],
    ['test', 'runs the unit tests', false, 'build', 15],
    ['release', '', true, 'scratch', 18],
  ]);
  t.is(formatTargets(targets), ['TARGET            DESCRIPTION', 'build             compiles the server', 'test              runs the unit tests', 'release (default) ', ''].join('\n'));
});

test('outline: args the target uses (with values and descriptions), secrets and ssh', async (t) => {
  const o = await outlineBuild(parseDockerfile(DOCUMENTED), options({ buildArgs: new Map([['GOOS', 'darwin']]) }));
  t.is(o.name, 'release');
  t.deepEqual(o.args.map((a) => [a.name, a.value, a.description]), [
    ['GO_VERSION', '1.22', ''],
    ['VERSION', 'dev', 'the version stamped into the binary'],
    ['GOOS', 'darwin', 'target operating system'],
  ]);
  t.deepEqual(o.secrets, [{ name: 'netrc', required: true, line: 12 }]);
  t.deepEqual(o.ssh, [{ name: 'github', required: false, line: 12 }]);
  t.is(
    formatOutline(o),
    [
      'TARGET: release',
      '',
      'BUILD ARG    VALUE    DESCRIPTION',
      'GO_VERSION   1.22     ',
      'VERSION      dev      the version stamped into the binary',
      'GOOS         darwin   target operating system',
      '',
      'SECRET   REQUIRED',
      'netrc    true',
      '',
      'SSH      REQUIRED',
      'github   ',
      '',
      '',
    ].join('\n'),
  );
});

test('runCallMode writes the report and returns the exit code', async (t) => {
  let out = '';
  const sink = { write: (s: string) => (out += s) };
  const df = parseDockerfile(DOCUMENTED);
  t.is(await runCallMode('targets', df, options(), sink), 0);
  t.true(out.startsWith('TARGET'));
  out = '';
  t.is(await runCallMode('check', df, options(), sink), 0);
  t.is(out, 'Check complete, no warnings found.\n');
  await t.throwsAsync(runCallMode('nope', df, options(), sink), { message: /unknown --call "nope"/ });
});
