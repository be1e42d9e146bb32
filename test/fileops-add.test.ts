import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pack } from 'tar-stream';
import { BuildContext } from '../builder/context/context.js';
import { copy, type CopyOp } from '../builder/fileops/copy.js';
import { tempDir as tmp } from './helpers/temp-dirs.js';
import { runIf } from './helpers/skip.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const codeOf = (err: unknown): string | undefined => (err as { code?: string } | undefined)?.code;

/** A context holding `payload/` (to archive) and the archives made by the system tar. */
async function archiveContext(): Promise<string> {
  const ctx = await tmp('add-ctx-');
  const payload = path.join(ctx, 'payload');
  await mkdir(path.join(payload, 'dir'), { recursive: true });
  await writeFile(path.join(payload, 'dir/file.txt'), 'hello');
  await symlink('file.txt', path.join(payload, 'dir/link'));
  const tarArgs = ['--owner=1234', '--group=4321', '--numeric-owner', '-C', payload, 'dir'];
  await run('tar', ['-cf', path.join(ctx, 'plain.tar'), ...tarArgs]);
  await run('tar', ['-czf', path.join(ctx, 'a.tar.gz'), ...tarArgs]);
  await run('tar', ['-cjf', path.join(ctx, 'a.tar.bz2'), ...tarArgs]);
  await run('tar', ['-cJf', path.join(ctx, 'a.tar.xz'), ...tarArgs]);
  await run('tar', ['--zstd', '-cf', path.join(ctx, 'a.tar.zst'), ...tarArgs]);
  // Detection is by content: an archive with a misleading name, and a non-archive with an archive name.
  await run('tar', ['-czf', path.join(ctx, 'disguised.txt'), ...tarArgs]);
  await writeFile(path.join(ctx, 'fake.tar.gz'), 'not really an archive');
  await writeFile(path.join(ctx, 'empty.tar'), '');
  return ctx;
}

async function addInto(ctxDir: string, op: Partial<CopyOp> & Pick<CopyOp, 'sources' | 'dest'>, destRoot?: string) {
  const root = destRoot ?? (await tmp('add-dest-'));
  const result = await copy({ instruction: 'ADD', ...op }, { destRoot: root, source: await BuildContext.open(ctxDir) });
  return { root, result };
}

for (const name of ['plain.tar', 'a.tar.gz', 'a.tar.bz2', 'a.tar.xz', 'a.tar.zst', 'disguised.txt']) {
  test(`ADD extracts a local ${name} (detected by content)`, async (t) => {
    const ctx = await archiveContext();
    const { root, result } = await addInto(ctx, { sources: [name], dest: '/out' });
    t.is(await readFile(path.join(root, 'out/dir/file.txt'), 'utf8'), 'hello');
    t.is(await readlink(path.join(root, 'out/dir/link')), 'file.txt');
    t.is(result.archivesExtracted, 1);
    if (isRoot) {
      const st = await stat(path.join(root, 'out/dir/file.txt'));
      t.deepEqual([st.uid, st.gid], [1234, 4321]); // archive ownership is kept without --chown
    }
  });
}

test('ADD copies files that only look like archives, and --unpack=false copies archives as files', async (t) => {
  const ctx = await archiveContext();
  const { root } = await addInto(ctx, { sources: ['fake.tar.gz', 'empty.tar'], dest: '/o/' });
  t.is(await readFile(path.join(root, 'o/fake.tar.gz'), 'utf8'), 'not really an archive');
  t.is((await stat(path.join(root, 'o/empty.tar'))).size, 0);
  const { root: root2 } = await addInto(ctx, { sources: ['a.tar.gz'], dest: '/o/', unpack: false });
  t.true((await stat(path.join(root2, 'o/a.tar.gz'))).isFile());
  // COPY never extracts.
  const root3 = await tmp('add-dest-');
  await copy({ instruction: 'COPY', sources: ['a.tar.xz'], dest: '/o/' }, { destRoot: root3, source: await BuildContext.open(ctx) });
  t.true((await stat(path.join(root3, 'o/a.tar.xz'))).isFile());
});

runIf(!isRoot ? 'ownership needs root' : undefined, test)('ADD --chown applies to extracted entries', async (t) => {
  const ctx = await archiveContext();
  const { root } = await addInto(ctx, { sources: ['a.tar.gz'], dest: '/o', chown: '7:8' });
  const st = await stat(path.join(root, 'o/dir/file.txt'));
  t.deepEqual([st.uid, st.gid], [7, 8]);
});

async function hostileArchive(ctx: string, name: string, entries: Array<{ name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; body?: string }>): Promise<void> {
  const p = pack();
  for (const e of entries) {
    p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644, mtime: new Date(0) }, e.body ?? '');
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  await writeFile(path.join(ctx, name), Buffer.concat(chunks));
}

async function canaryLayout() {
  const base = await tmp('add-hostile-');
  const canary = path.join(base, 'canary');
  const root = path.join(base, 'rootfs');
  const ctx = path.join(base, 'ctx');
  await mkdir(canary);
  await mkdir(root);
  await mkdir(ctx);
  await writeFile(path.join(canary, 'keep'), 'KEEP');
  const untouched = async () => ({ names: await readdir(canary), keep: await readFile(path.join(canary, 'keep'), 'utf8') });
  return { base, canary, root, ctx, untouched };
}

test('hostile archives: ../ names, escaping relative symlinks and hard links are refused', async (t) => {
  const l = await canaryLayout();
  await hostileArchive(l.ctx, 'dotdot.tar', [{ name: '../../canary/evil', body: 'x' }]);
  await hostileArchive(l.ctx, 'rel-link.tar', [{ name: 'up', type: 'symlink', linkname: '../../../canary' }, { name: 'up/evil', body: 'x' }]);
  await hostileArchive(l.ctx, 'hard.tar', [{ name: 'h', type: 'link', linkname: '../../canary/keep' }]);
  const expected: Record<string, string> = { 'dotdot.tar': 'ARCHIVE_PATH_ESCAPES', 'rel-link.tar': 'ARCHIVE_LINK_ESCAPES', 'hard.tar': 'ARCHIVE_PATH_ESCAPES' };
  for (const [name, code] of Object.entries(expected)) {
    const err = await t.throwsAsync(addInto(l.ctx, { sources: [name], dest: '/x/' }, l.root));
    t.is(codeOf(err), code, name);
  }
  t.deepEqual(await l.untouched(), { names: ['keep'], keep: 'KEEP' });
});

test('hostile archives: absolute symlinks planted in the archive resolve inside the destination', async (t) => {
  const l = await canaryLayout();
  await hostileArchive(l.ctx, 'abs.tar', [
    { name: 'rootlink', type: 'symlink', linkname: '/' },
    { name: 'rootlink/etc/written', body: 'inside' },
    { name: 'canarylink', type: 'symlink', linkname: l.canary },
    { name: 'canarylink/keep', body: 'PWNED' },
  ]);
  await addInto(l.ctx, { sources: ['abs.tar'], dest: '/opt/' }, l.root);
  t.deepEqual(await l.untouched(), { names: ['keep'], keep: 'KEEP' });
  // chroot semantics: "/" of the archive is the extraction directory.
  t.is(await readFile(path.join(l.root, 'opt/etc/written'), 'utf8'), 'inside');
  t.is(await readFile(path.join(l.root, 'opt', l.canary, 'keep'), 'utf8'), 'PWNED');
});

test('hostile image: a destination symlink to a host dir does not redirect extraction', async (t) => {
  const l = await canaryLayout();
  await symlink(l.canary, path.join(l.root, 'opt'));
  await hostileArchive(l.ctx, 'plain.tar', [{ name: 'keep', body: 'PWNED' }, { name: 'new', body: 'n' }]);
  await addInto(l.ctx, { sources: ['plain.tar'], dest: '/opt' }, l.root);
  t.deepEqual(await l.untouched(), { names: ['keep'], keep: 'KEEP' });
  t.is(await readFile(path.join(l.root, l.canary, 'keep'), 'utf8'), 'PWNED');
});

function serve(handler: (url: string) => { status: number; body?: Buffer; headers?: Record<string, string> }): Promise<{ server: Server; base: string }> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const r = handler(req.url ?? '/');
      res.writeHead(r.status, r.headers);
      res.end(r.body);
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

test('ADD <url>: named after the URL path, mode 0600, Last-Modified mtime, checksum verified', async (t) => {
  const body = Buffer.from('remote content');
  const sha = createHash('sha256').update(body).digest('hex');
  const lastModified = 'Wed, 21 Oct 2015 07:28:00 GMT';
  const { server, base } = await serve((url) =>
    url === '/files/tool.bin' || url === '/' ? { status: 200, body, headers: { 'Last-Modified': lastModified } } : { status: 404, body: Buffer.from('no') },
  );
  t.teardown(() => server.close());
  const ctx = await tmp('add-url-ctx-');
  const { root, result } = await addInto(ctx, { sources: [`${base}/files/tool.bin`], dest: '/dl/' });
  const file = path.join(root, 'dl/tool.bin');
  t.is(await readFile(file, 'utf8'), 'remote content');
  const st = await lstat(file);
  t.is(st.mode & 0o7777, 0o600);
  t.is(st.mtime.getTime(), new Date(lastModified).getTime());
  t.is(result.downloads, 1);

  const { root: root2 } = await addInto(ctx, { sources: [`${base}/files/tool.bin`], dest: '/renamed', checksum: `sha256:${sha}`, chmod: '755' });
  t.is((await stat(path.join(root2, 'renamed'))).mode & 0o7777, 0o755);
  const { root: root3 } = await addInto(ctx, { sources: [`${base}/`], dest: '/d/' });
  t.is(await readFile(path.join(root3, 'd/__unnamed__'), 'utf8'), 'remote content');

  const bad = await t.throwsAsync(addInto(ctx, { sources: [`${base}/files/tool.bin`], dest: '/x/', checksum: `sha256:${'0'.repeat(64)}` }));
  t.is(codeOf(bad), 'CHECKSUM_MISMATCH');
  const missing = await t.throwsAsync(addInto(ctx, { sources: [`${base}/nope`], dest: '/x/' }));
  t.is(codeOf(missing), 'URL_FETCH_FAILED');
  t.regex(missing!.message, /404/);
  const malformed = await t.throwsAsync(addInto(ctx, { sources: [`${base}/files/tool.bin`], dest: '/x/', checksum: 'md5:abc' }));
  t.is(codeOf(malformed), 'INVALID_CHECKSUM');
});

test('ADD <url> of an archive is not extracted unless --unpack', async (t) => {
  const ctx = await archiveContext();
  const tarball = await readFile(path.join(ctx, 'a.tar.gz'));
  const { server, base } = await serve(() => ({ status: 200, body: tarball }));
  t.teardown(() => server.close());
  const { root } = await addInto(ctx, { sources: [`${base}/a.tar.gz`], dest: '/dl/' });
  t.true((await stat(path.join(root, 'dl/a.tar.gz'))).isFile());
  const { root: root2 } = await addInto(ctx, { sources: [`${base}/a.tar.gz`], dest: '/dl/', unpack: true });
  t.is(await readFile(path.join(root2, 'dl/dir/file.txt'), 'utf8'), 'hello');
});

test('URLs and git sources: clear user errors where unsupported or unreachable', async (t) => {
  const ctx = await tmp('add-ctx-');
  const source = await BuildContext.open(ctx);
  const destRoot = await tmp('add-dest-');
  const cases: Array<[Partial<CopyOp>, string]> = [
    [{ instruction: 'COPY', sources: ['http://127.0.0.1:1/x'] }, 'URL_SOURCE_FOR_COPY'],
    [{ instruction: 'COPY', sources: ['https://github.com/moby/buildkit.git#v0.14.1'] }, 'GIT_SOURCE_UNSUPPORTED'],
    // ADD from git works (e2e-contexts); an unreachable repository is a one-line git error.
    [{ instruction: 'ADD', sources: ['http://127.0.0.1:1/nothing.git#main'] }, 'GIT_FAILED'],
    [{ instruction: 'COPY', sources: ['a'], checksum: `sha256:${'0'.repeat(64)}` }, 'CHECKSUM_NOT_ALLOWED'],
    [{ instruction: 'ADD', sources: ['local'], checksum: `sha256:${'0'.repeat(64)}` }, 'CHECKSUM_NOT_ALLOWED'],
  ];
  for (const [op, code] of cases) {
    const err = await t.throwsAsync(copy({ instruction: 'ADD', dest: '/', sources: [], ...op }, { destRoot, source }));
    t.is(codeOf(err), code, JSON.stringify(op));
  }
});
