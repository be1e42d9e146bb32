// End to end: build contexts that are not a local directory, as `docker
// build` takes them: a tar archive or a lone Dockerfile on stdin (`-`), a
// tarball URL, and a git repository served over loopback HTTP by
// `git http-backend` (`http://host/repo.git#ref:subdir`).
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { storeSuite, tsbuild } from './helpers/cli.js';
import { gitSkipReason, makeRepo, startGitServer, type GitServer } from './helpers/git-server.js';
import { makeContext, ok } from './e2e-image-helpers.js';

const suite = storeSuite('e2e build contexts');
const gitSkip = gitSkipReason();
const root = () => suite.store.root;
const cat = async (ref: string, file: string) => (await ok(['run', '--rm', ref, 'cat', file], { root: root() })).stdout;

function tarOf(dir: string, gzip: boolean): Buffer {
  return execFileSync('tar', ['-C', dir, gzip ? '-czf' : '-cf', '-', '.']);
}

suite.it('`build -` reads a tar context (plain or gzip) from stdin; -f names a file inside it', async (t) => {
  const dir = await makeContext({ 'Dockerfile': 'FROM busybox:latest\nCOPY hello.txt /hello.txt\n', 'hello.txt': 'from stdin tar\n', 'alt/Build.df': 'FROM busybox:latest\nCOPY hello.txt /alt.txt\n' });
  await ok(['build', '--progress=plain', '-t', 'stdintar:v1', '-'], { root: root(), input: tarOf(dir, false) });
  t.is(await cat('stdintar:v1', '/hello.txt'), 'from stdin tar\n');
  await ok(['build', '--progress=plain', '-t', 'stdintgz:v1', '-f', 'alt/Build.df', '-'], { root: root(), input: tarOf(dir, true) });
  t.is(await cat('stdintgz:v1', '/alt.txt'), 'from stdin tar\n');
});

suite.it('`build -` with a Dockerfile on stdin builds it with an empty context', async (t) => {
  await ok(['build', '--progress=plain', '-t', 'stdindf:v1', '-'], { root: root(), input: 'FROM busybox:latest\nRUN echo no-context > /out\n' });
  t.is(await cat('stdindf:v1', '/out'), 'no-context\n');
  const copy = await tsbuild(['build', '--progress=plain', '-'], { root: root(), input: 'FROM busybox:latest\nCOPY anything /x\n' });
  t.is(copy.code, 1);
  t.regex(copy.stderr, /source "anything" not found in the build context/);
  const both = await tsbuild(['build', '-f', '-', '-'], { root: root(), input: 'FROM busybox:latest\n' });
  t.is(both.code, 1);
  t.regex(both.stderr, /can't use stdin for both build context and dockerfile/);
});

suite.it('a tarball URL is a context', async (t) => {
  const dir = await makeContext({ 'Dockerfile': 'FROM busybox:latest\nCOPY f /f\n', 'f': 'from a URL\n' });
  const body = tarOf(dir, true);
  const server = http.createServer((req, res) => {
    if (req.url === '/ctx.tar.gz') res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ctx.tar.gz`;
    await ok(['build', '--progress=plain', '-t', 'urlctx:v1', url], { root: root() });
    t.is(await cat('urlctx:v1', '/f'), 'from a URL\n');
  } finally {
    server.close();
  }
});

const gitIt = gitSkip || suite.skip ? test.skip : test;
let gitServer: GitServer | undefined;
let gitServerStarting: Promise<GitServer> | undefined;
// One server for the file's tests, which run concurrently.
async function server(): Promise<GitServer> {
  gitServerStarting ??= startGitServer().then((s) => (gitServer = s));
  return gitServerStarting;
}

gitIt('a git repository over HTTP: #ref:subdir picks the tag and directory; .git is not in the context', async (t) => {
  const gitServer = await server();
  const [first] = await makeRepo(gitServer, 'app', [
    { files: { 'svc/Dockerfile': 'FROM busybox:latest\nCOPY . /src/\n', 'svc/version': 'one\n', 'README': 'top\n' }, tag: 'v1' },
    { files: { 'svc/version': 'two\n' } },
  ]);
  const repo = `${gitServer.url}/app.git`;
  await ok(['build', '--progress=plain', '-t', 'gitctx:v1', `${repo}#v1:svc`], { root: root() });
  t.is(await cat('gitctx:v1', '/src/version'), 'one\n');
  const listing = (await ok(['run', '--rm', 'gitctx:v1', 'ls', '-a', '/src'], { root: root() })).stdout.split('\n');
  t.false(listing.includes('.git'));
  t.false(listing.includes('README'), 'only the subdirectory is the context');
  await ok(['build', '--progress=plain', '-t', 'gitctx:head', `${repo}#main:svc`], { root: root() });
  t.is(await cat('gitctx:head', '/src/version'), 'two\n');
  await ok(['build', '--progress=plain', '-t', 'gitctx:sha', '-f', 'svc/Dockerfile', `${repo}#${first}`], { root: root() });
  t.is(await cat('gitctx:sha', '/src/svc/version'), 'one\n', 'a commit id, with -f inside the repository');
  const missing = await tsbuild(['build', '--progress=plain', `${gitServer.url}/nope.git`], { root: root() });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^ERROR: git fetch failed: /m);
  t.notRegex(missing.stderr, /\n\s+at /);
});

test.after.always(async () => {
  await gitServer?.stop();
});

suite.it('--build-context: a directory for COPY --from and RUN --mount from=, an image, a stage, an OCI layout', async (t) => {
  const assets = await makeContext({ 'logo.txt': 'logo\n', 'skip.txt': 'no\n', '.dockerignore': 'skip.txt\n' });
  const ctx = await makeContext({ Dockerfile: `FROM busybox:latest AS builder
RUN echo built > /built
FROM base
COPY --from=assets / /assets/
RUN --mount=from=assets,target=/a cat /a/logo.txt > /mounted
COPY --from=prev /built /built
` });
  await ok(['build', '--progress=plain', '-t', 'named:v1',
    '--build-context', `assets=${assets}`,
    '--build-context', 'base=docker-image://busybox:latest',
    '--build-context', 'prev=target:builder', ctx], { root: root() });
  t.is(await cat('named:v1', '/assets/logo.txt'), 'logo\n');
  const listing = (await ok(['run', '--rm', 'named:v1', 'ls', '/assets'], { root: root() })).stdout;
  t.false(listing.includes('skip.txt'), 'the directory context has its own .dockerignore');
  t.is(await cat('named:v1', '/mounted'), 'logo\n');
  t.is(await cat('named:v1', '/built'), 'built\n');

  // A directory context as a stage's base: its files (through its .dockerignore) are the first layer.
  const fromDir = await makeContext({ Dockerfile: 'FROM assets\nCMD ["/logo.txt"]\n' });
  await ok(['build', '--progress=plain', '-t', 'named:dir', '--build-context', `assets=${assets}`, fromDir], { root: root() });
  const dirImage = JSON.parse((await ok(['inspect', 'named:dir'], { root: root() })).stdout)[0];
  t.is(dirImage.RootFS.Layers.length, 1);
  t.deepEqual(dirImage.Config.Cmd, ['/logo.txt']);
  const out = await makeContext({});
  await ok(['build', '--progress=plain', '-o', `type=local,dest=${out}/fs`, '--build-context', `assets=${assets}`, fromDir], { root: root() });
  t.is(await readFile(path.join(out, 'fs/logo.txt'), 'utf8'), 'logo\n');
  await t.throwsAsync(readFile(path.join(out, 'fs/skip.txt')));

  // An OCI layout directory as the base image.
  const layout = await makeContext({});
  const baseCtx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo from-layout > /origin\n' });
  await ok(['build', '--progress=plain', '-o', `type=oci,tar=false,dest=${layout}/img`, baseCtx], { root: root() });
  const useLayout = await makeContext({ Dockerfile: 'FROM laid\nRUN cat /origin > /copied\n' });
  await ok(['build', '--progress=plain', '-t', 'named:oci', '--build-context', `laid=oci-layout://${layout}/img`, useLayout], { root: root() });
  t.is(await cat('named:oci', '/copied'), 'from-layout\n');

  const bad = await tsbuild(['build', '--progress=plain', '--build-context', 'x=/nonexistent/dir', useLayout], { root: root() });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /invalid --build-context x=\/nonexistent\/dir: not a directory/);
  const noEq = await tsbuild(['build', '--build-context', 'justname', useLayout], { root: root() });
  t.is(noEq.code, 1);
  t.regex(noEq.stderr, /invalid --build-context "justname": expected NAME=VALUE/);
});

gitIt('--build-context NAME=<git url> reads a repository', async (t) => {
  const gitServer = await server();
  await makeRepo(gitServer, 'lib', [{ files: { 'lib/code.txt': 'library\n' } }]);
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nCOPY --from=lib code.txt /code.txt\n' });
  await ok(['build', '--progress=plain', '-t', 'namedgit:v1', '--build-context', `lib=${gitServer.url}/lib.git#main:lib`, ctx], { root: root() });
  t.is(await cat('namedgit:v1', '/code.txt'), 'library\n');
});

gitIt('ADD <git url> copies the repository at a ref (without .git unless --keep-git-dir)', async (t) => {
  const gitServer = await server();
  const [, second] = await makeRepo(gitServer, 'addme', [
    { files: { 'docs/a.md': 'A1\n', 'top.txt': 'top\n' }, tag: 'v1' },
    { files: { 'docs/a.md': 'A2\n' } },
  ]);
  const repo = `${gitServer.url}/addme.git`;
  const ctx = await makeContext({ Dockerfile: `FROM busybox:latest
ADD ${repo}#v1 /src/
ADD ${repo}#main:docs /docs/
ADD --keep-git-dir=true ${repo}#${second} /withgit/
` });
  await ok(['build', '--progress=plain', '-t', 'addgit:v1', ctx], { root: root() });
  t.is(await cat('addgit:v1', '/src/docs/a.md'), 'A1\n');
  t.is(await cat('addgit:v1', '/src/top.txt'), 'top\n');
  t.is(await cat('addgit:v1', '/docs/a.md'), 'A2\n');
  const ls = async (dir: string) => (await ok(['run', '--rm', 'addgit:v1', 'ls', '-a', dir], { root: root() })).stdout.split('\n');
  t.false((await ls('/src')).includes('.git'));
  t.true((await ls('/withgit')).includes('.git'));
  const head = (await ok(['run', '--rm', 'addgit:v1', 'cat', '/withgit/.git/HEAD'], { root: root() })).stdout.trim();
  t.is(head, second);
  // A ref that moves re-runs the ADD: the key is the commit the ref names.
  await makeRepo(gitServer, 'moving', [{ files: { f: '1\n' } }]);
  const moving = await makeContext({ Dockerfile: `FROM busybox:latest\nADD ${gitServer.url}/moving.git#main /m/\n` });
  await ok(['build', '--progress=plain', '-t', 'addgit:m', moving], { root: root() });
  t.is(await cat('addgit:m', '/m/f'), '1\n');
});
