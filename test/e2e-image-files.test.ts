// End to end: COPY/ADD through the real `tsbuild build`, then looking at the
// files of the result (`-o type=local`): contents, modes, owners, symlinks,
// BuildKit's source/destination rules, ADD archives and URLs, .dockerignore.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { lstat, readFile, readlink, readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { storeSuite, tsbuild } from './helpers/cli.js';
import { build, makeContext, scratch } from './e2e-image-helpers.js';

const suite = storeSuite('e2e image files');
const { it } = suite;

/** Builds `dockerfile` over `files` and returns the directory holding the final filesystem. */
async function buildLocal(files: Parameters<typeof makeContext>[0], dockerfile: string, args: string[] = []): Promise<string> {
  const ctx = await makeContext(files);
  const out = path.join(await scratch('tsbuild-out-'), 'rootfs');
  await build(suite.store.root, ctx, dockerfile, ['-o', `type=local,dest=${out}`, ...args]);
  return out;
}

async function stat(root: string, p: string): Promise<{ mode: number; uid: number; gid: number; type: string }> {
  const s = await lstat(path.join(root, p));
  return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, type: s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : 'file' };
}
const text = (root: string, p: string) => readFile(path.join(root, p), 'utf8');
const names = async (root: string, p: string) => (await readdir(path.join(root, p))).sort();

it('COPY keeps contents and modes; --chown by name and by number; --chmod octal and symbolic', async (t) => {
  const out = await buildLocal(
    { 'hello.txt': { content: 'hello\n', mode: 0o640 }, 'run.sh': { content: 'echo hi\n', mode: 0o644 } },
    `FROM busybox:latest
COPY hello.txt /plain/
COPY --chown=app:app hello.txt /owned-name
COPY --chown=1000:100 hello.txt /owned-num
COPY --chown=app hello.txt /owned-user-only
COPY --chmod=750 hello.txt /mode750
COPY --chmod=u+x run.sh /modeux
`,
  );
  t.is(await text(out, 'plain/hello.txt'), 'hello\n');
  t.deepEqual(await stat(out, 'plain/hello.txt'), { mode: 0o640, uid: 0, gid: 0, type: 'file' });
  t.deepEqual(await stat(out, 'owned-name'), { mode: 0o640, uid: 1000, gid: 1000, type: 'file' });
  t.deepEqual(await stat(out, 'owned-num'), { mode: 0o640, uid: 1000, gid: 100, type: 'file' });
  // Only a user given: Docker documents that the gid is then the same number as the uid.
  t.deepEqual(await stat(out, 'owned-user-only'), { mode: 0o640, uid: 1000, gid: 1000, type: 'file' });
  t.is((await stat(out, 'mode750')).mode, 0o750);
  t.is((await stat(out, 'modeux')).mode, 0o744);
  t.is(await text(out, 'modeux'), 'echo hi\n');
});

it('COPY of a directory copies its contents, keeps inner symlinks as symlinks and follows a named source symlink', async (t) => {
  const out = await buildLocal(
    {
      'dir/one.txt': 'one\n',
      'dir/sub/two.txt': 'two\n',
      'dir/rel-link': { symlink: 'one.txt' },
      'dir/abs-link': { symlink: '/etc/passwd' },
      'target.txt': 'target\n',
      'top-link': { symlink: 'target.txt' },
    },
    `FROM busybox:latest
COPY dir /dircontents
COPY dir/ /dircontents2/
COPY top-link /named-link
`,
  );
  t.deepEqual(await names(out, 'dircontents'), ['abs-link', 'one.txt', 'rel-link', 'sub']);
  t.deepEqual(await names(out, 'dircontents2'), ['abs-link', 'one.txt', 'rel-link', 'sub']);
  t.is(await text(out, 'dircontents/sub/two.txt'), 'two\n');
  t.is((await stat(out, 'dircontents/rel-link')).type, 'symlink');
  t.is(await readlink(path.join(out, 'dircontents/rel-link')), 'one.txt');
  // An absolute link is copied as the link itself, never as the host file it would point at.
  t.is(await readlink(path.join(out, 'dircontents/abs-link')), '/etc/passwd');
  // BuildKit follows the last component of a named source (FollowSymlinks): the file's content arrives.
  t.is((await stat(out, 'named-link')).type, 'file');
  t.is(await text(out, 'named-link'), 'target\n');
});

it('COPY wildcards, trailing-slash rules and destinations relative to WORKDIR', async (t) => {
  const out = await buildLocal(
    { 'a.md': 'A', 'b.md': 'B', 'c.txt': 'C', 'hello.txt': 'hi' },
    `FROM busybox:latest
COPY *.md /wild/
COPY hello.txt /noslash
COPY hello.txt /slash/
WORKDIR /work
COPY hello.txt rel/
COPY hello.txt rel2
COPY *.md ./
`,
  );
  t.deepEqual(await names(out, 'wild'), ['a.md', 'b.md']);
  t.is((await stat(out, 'noslash')).type, 'file');
  t.is(await text(out, 'noslash'), 'hi');
  t.is(await text(out, 'slash/hello.txt'), 'hi');
  t.is(await text(out, 'work/rel/hello.txt'), 'hi');
  t.is(await text(out, 'work/rel2'), 'hi');
  t.deepEqual(await names(out, 'work'), ['a.md', 'b.md', 'rel', 'rel2']);
});

it('COPY of several sources to a non-directory destination is refused', async (t) => {
  const ctx = await makeContext({ 'a.md': 'A', 'b.md': 'B', Dockerfile: 'FROM busybox:latest\nCOPY a.md b.md /notadir\n' });
  const r = await tsbuild(['build', '--progress=plain', ctx], { root: suite.store.root });
  t.is(r.code, 1);
  t.regex(r.stderr, /must be a directory|end with a \//);
  t.notRegex(r.stderr, /\n\s+at /); // no stack trace
});

it('COPY --parents, --exclude, heredoc, --from=<stage> and --from=<image>', async (t) => {
  const out = await buildLocal(
    { 'src/a/x.txt': 'a1', 'src/b/x.txt': 'b1', 'src/b/y.log': 'b2', 'src/b/z.txt': 'b3' },
    `FROM busybox:latest AS builder
RUN mkdir /out && echo built > /out/artifact
FROM busybox:latest
ENV WHO=world
COPY --parents src/*/x.txt /parents/
COPY --exclude=*.log src/b /excl/
COPY <<EOT /heredoc.txt
hello $WHO
EOT
COPY <<"EOT" /heredoc-raw.txt
hello $WHO
EOT
COPY --from=builder /out/artifact /from-stage
COPY --from=busybox:latest /etc/os-release /from-image
`,
  );
  t.is(await text(out, 'parents/src/a/x.txt'), 'a1');
  t.is(await text(out, 'parents/src/b/x.txt'), 'b1');
  t.deepEqual(await names(out, 'parents/src/b'), ['x.txt']);
  t.deepEqual(await names(out, 'excl'), ['x.txt', 'z.txt']);
  t.is(await text(out, 'heredoc.txt'), 'hello world\n');
  t.is(await text(out, 'heredoc-raw.txt'), 'hello $WHO\n');
  t.is(await text(out, 'from-stage'), 'built\n');
  t.regex(await text(out, 'from-image'), /ID=busybox/);
});

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0), type: 'file' }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  return gzipSync(Buffer.concat(chunks));
}

it('ADD extracts local tar.gz and tar.xz archives; COPY does not', async (t) => {
  const ctx = await makeContext({ 'in-gz.tar.gz': await tarGz({ 'pkg/gz.txt': 'from gzip' }), 'xzsrc/pkg/xz.txt': 'from xz' });
  execFileSync('tar', ['-cJf', path.join(ctx, 'in-xz.tar.xz'), '-C', path.join(ctx, 'xzsrc'), 'pkg']);
  const out = path.join(await scratch('tsbuild-out-'), 'rootfs');
  await build(suite.store.root, ctx, `FROM busybox:latest
ADD in-gz.tar.gz /gz/
ADD in-xz.tar.xz /xz/
COPY in-gz.tar.gz /copied/
`, ['-o', `type=local,dest=${out}`]);
  t.is(await text(out, 'gz/pkg/gz.txt'), 'from gzip');
  t.is(await text(out, 'xz/pkg/xz.txt'), 'from xz');
  t.deepEqual(await names(out, 'copied'), ['in-gz.tar.gz']);
});

async function serve(files: Record<string, string>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

it('ADD <url> with --checksum: a matching digest is added, a wrong one fails the build', async (t) => {
  const body = 'downloaded content\n';
  const { url, server } = await serve({ '/files/data.txt': body });
  t.teardown(() => server.close());
  const good = 'sha256:' + createHash('sha256').update(body).digest('hex');
  const bad = 'sha256:' + '0'.repeat(64);
  const out = await buildLocal({}, `FROM busybox:latest
ADD --checksum=${good} ${url}/files/data.txt /dl/
ADD ${url}/files/data.txt /dl-named
`);
  t.is(await text(out, 'dl/data.txt'), body);
  t.is((await stat(out, 'dl/data.txt')).mode, 0o600); // BuildKit's HTTP source writes 0600
  t.is(await text(out, 'dl-named'), body);

  const ctx = await makeContext({ Dockerfile: `FROM busybox:latest\nADD --checksum=${bad} ${url}/files/data.txt /dl/\n` });
  const r = await tsbuild(['build', '--progress=plain', ctx], { root: suite.store.root });
  t.is(r.code, 1);
  t.regex(r.stderr, /checksum|digest/i);
  t.notRegex(r.stderr, /\n\s+at /);
});

it('.dockerignore: excluded files are absent, `!` exceptions are present', async (t) => {
  const out = await buildLocal(
    {
      '.dockerignore': '# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\n',
      'app.txt': 'app',
      'debug.log': 'x',
      'keep.log': 'kept',
      'secret/key': 'k',
      'deep/er/file.tmp': 't',
      'deep/er/file.txt': 'f',
    },
    `FROM busybox:latest
COPY . /ctx/
`,
  );
  const all = await names(out, 'ctx');
  t.true(all.includes('app.txt'));
  t.true(all.includes('keep.log'));
  t.false(all.includes('debug.log'));
  t.false(all.includes('secret'));
  t.deepEqual(await names(out, 'ctx/deep/er'), ['file.txt']);
});
