// The remote client's manifest: what it lists (ignore rules applied, walk
// order, digests of the bytes) and the snapshot of the last walk, which
// lets an unchanged context skip hashing and building the list while any
// change (an edit of the same size, an added or removed file, a new
// symlink target) still shows.
import test from 'ava';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { chmod, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { closeSync, existsSync, openSync } from 'node:fs';
import { buildManifest, entryOf, manifestOfRows, rowLine, rowsOfWalk, startContextCheck, statContextAround, type ContextManifest } from '../builder/remote/context-manifest.js';
import { checksumSelection, MemoryContentHashCache } from '../builder/context/checksum.js';
import { BuildContext, type ContextWalkEntry } from '../builder/context/context.js';
import { execFileSync } from 'node:child_process';
import { ContextSnapshot, type SnapshotRow } from '../builder/remote/context-snapshot.js';
import { nativeStatCheck, STAT_CHECK_NAME } from '../builder/remote/native-stat-check.js';
import { packageRoot } from '../runner-native/package-root.js';
import { digestOfLines, manifestDigest, manifestLine } from '../builder/remote/manifest-digest.js';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { tempDir } from './helpers/temp-dirs.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

/** A Dockerfile, an ignored file, 20 files under src/ and a symlink; `more` adds to it before it ages past the racy margin. */
async function sampleContext(more: (ctx: string) => void = () => undefined): Promise<string> {
  const ctx = await tempDir('tsbuild-ctx-');
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\n');
  await writeFile(path.join(ctx, '.dockerignore'), 'secret*\n');
  await writeFile(path.join(ctx, 'secret.txt'), 'never listed');
  await mkdir(path.join(ctx, 'src'));
  for (let i = 0; i < 20; i++) await writeFile(path.join(ctx, 'src', `f${i}.txt`), `file ${i}`);
  await symlink('src/f1.txt', path.join(ctx, 'link'));
  more(ctx);
  // Files younger than the racy margin are never trusted: let them age.
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  return ctx;
}

test.serial('an unchanged context reuses the last walk; edits, additions, removals and relinks are seen', async (t) => {
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const ctx = await sampleContext();

  const first = await buildManifest(ctx, undefined);
  t.false(first.unchanged);
  const paths = first.entries().map((e) => e.path);
  t.deepEqual(paths, ['.dockerignore', 'Dockerfile', 'link', 'src', ...Array.from({ length: 20 }, (_, i) => `src/f${i}.txt`).sort()]);
  t.is(first.entries().find((e) => e.path === 'src/f3.txt')?.digest, sha('file 3'));
  t.is(first.entries().find((e) => e.path === 'link')?.link, 'src/f1.txt');
  t.is(first.digest, manifestDigest(first.entries()));

  const again = await buildManifest(ctx, undefined);
  t.true(again.unchanged, 'nothing changed: the last walk is reused');
  t.is(again.digest, first.digest);
  t.deepEqual(again.entries(), first.entries());
  t.is(again.sources().get(sha('file 3'))?.path, path.join(ctx, 'src/f3.txt'));

  // Same size, new bytes.
  await writeFile(path.join(ctx, 'src', 'f3.txt'), 'FILE 3');
  const edited = await buildManifest(ctx, undefined);
  t.false(edited.unchanged);
  t.not(edited.digest, first.digest);
  t.is(edited.entries().find((e) => e.path === 'src/f3.txt')?.digest, sha('FILE 3'));
  t.is(edited.digest, manifestDigest(edited.entries()));

  // A snapshot not rewritten for a month is forgotten when another is
  // saved, by a look through the directory at most once a day.
  const contexts = path.join(process.env.XDG_CACHE_HOME, 'tsbuild', 'contexts');
  const stale = path.join(contexts, 'stale.json');
  const daysAgo = (n: number) => new Date(Date.now() - n * 86400_000);
  await writeFile(stale, '{}');
  await utimes(stale, daysAgo(40), daysAgo(40));
  await writeFile(path.join(ctx, 'src', 'f3.txt'), 'FILE 3 again');
  await buildManifest(ctx, undefined);
  t.true(existsSync(stale), 'looked through already today');
  await utimes(path.join(contexts, '.last-forget'), daysAgo(2), daysAgo(2));
  await writeFile(path.join(ctx, 'src', 'a-new.txt'), 'new');
  await rm(path.join(ctx, 'src', 'f7.txt'));
  await rm(path.join(ctx, 'link'));
  await symlink('src/f2.txt', path.join(ctx, 'link'));
  const moved = await buildManifest(ctx, undefined);
  const byPath = new Map(moved.entries().map((e) => [e.path, e]));
  t.is(byPath.get('src/a-new.txt')?.digest, sha('new'));
  t.false(byPath.has('src/f7.txt'));
  t.is(byPath.get('link')?.link, 'src/f2.txt');
  t.is(byPath.get('src/f9.txt')?.digest, sha('file 9'));
  t.false(byPath.has('secret.txt'));
  t.is(moved.digest, manifestDigest(moved.entries()));
  t.false(existsSync(stale));
});

test('the manifest digest covers every field and the order', (t) => {
  const d = 'sha256:' + 'a'.repeat(64);
  const base = [{ path: 'a', type: 'dir' as const, mode: 0o755, mtimeMs: 1 }, { path: 'a/b', type: 'file' as const, mode: 0o644, mtimeMs: 2, size: 3, digest: d }];
  const digest = manifestDigest(base);
  t.regex(digest, /^sha256:[0-9a-f]{64}$/);
  t.not(manifestDigest([base[0]!, { ...base[1]!, mode: 0o755 }]), digest);
  t.not(manifestDigest([base[0]!, { ...base[1]!, mtimeMs: 2.5 }]), digest);
  t.not(manifestDigest([base[0]!, { ...base[1]!, digest: 'sha256:' + 'b'.repeat(64) }]), digest);
  t.not(manifestDigest([base[1]!, base[0]!]), digest);
  t.is(manifestDigest(JSON.parse(JSON.stringify(base))), digest);
});

test('a snapshot\'s rows hash to the digest of their entries, each kind and missing field alike', (t) => {
  const d = 'sha256:' + 'c'.repeat(64);
  const rows: SnapshotRow[] = [
    { name: 'src', mode: 0o040755, size: 4096, mtimeMs: 1.5, ctimeMs: 2, ino: 3, dev: 4 },
    { name: 'src/a b', mode: 0o100644, size: 7, mtimeMs: 1700000000123.4567, ctimeMs: 2, ino: 5, dev: 4, digest: d },
    { name: 'src/no-digest', mode: 0o104755, size: 0, mtimeMs: 3, ctimeMs: 2, ino: 6, dev: 4 },
    { name: 'src/link', mode: 0o120777, size: 5, mtimeMs: 4, ctimeMs: 2, ino: 7, dev: 4, link: '../x' },
    { name: 'src/link-unread', mode: 0o120777, size: 5, mtimeMs: 4, ctimeMs: 2, ino: 8, dev: 4 },
  ];
  t.is(digestOfLines(rows, rowLine), manifestDigest(rows.map(entryOf)));
  for (const r of rows) t.is(rowLine(r), manifestLine(entryOf(r)), r.name);
});

// The shortcut of an unchanged context (context-snapshot.ts) lstats the
// remembered entries and reads no directory: each kind of change must
// still be seen, by the native check and by the JavaScript one alike.
test.serial('the unchanged-context check, native and in JavaScript, sees every kind of change', async (t) => {
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const dockerfiles = await tempDir('tsbuild-dockerfiles-');
  const changes: Record<string, (ctx: string) => Promise<void>> = {
    'an edit of the same size, its mtime put back': async (ctx) => {
      const old = new Date(Date.now() - 3600_000);
      await writeFile(path.join(ctx, 'src/f1.txt'), 'FILE 1');
      await utimes(path.join(ctx, 'src/f1.txt'), old, old);
    },
    'a deleted file': (ctx) => rm(path.join(ctx, 'src/f2.txt')),
    'a chmod': (ctx) => chmod(path.join(ctx, 'src/f3.txt'), 0o755),
    'a new symlink': (ctx) => symlink('f1.txt', path.join(ctx, 'src/link')),
    'an edited .dockerignore that ignores itself': (ctx) => writeFile(path.join(ctx, '.dockerignore'), '.dockerignore\nsecret*\nsrc/f4.txt\n'),
    'a new file in a subdirectory': (ctx) => writeFile(path.join(ctx, 'src/new.txt'), 'new'),
    'a new Dockerfile-specific ignore file outside the context': async (ctx) => writeFile(`${dockerfileOf(ctx)}.dockerignore`, 'src\n'),
    'a directory replaced by a file of the same name': async (ctx) => {
      await rm(path.join(ctx, 'src'), { recursive: true });
      await writeFile(path.join(ctx, 'src'), 'now a file');
    },
  };
  const dockerfileOf = (ctx: string) => path.join(dockerfiles, `${path.basename(ctx)}.Dockerfile`);
  const contexts = new Map<string, string>();
  for (const name of [...Object.keys(changes), 'nothing']) {
    const ctx = await tempDir('tsbuild-ctx-');
    await writeFile(dockerfileOf(ctx), 'FROM scratch\n');
    await writeFile(path.join(ctx, '.dockerignore'), '.dockerignore\nsecret*\n');
    await writeFile(path.join(ctx, 'secret.txt'), 'never listed');
    await mkdir(path.join(ctx, 'src'));
    for (let i = 0; i < 5; i++) await writeFile(path.join(ctx, 'src', `f${i}.txt`), `file ${i}`);
    contexts.set(name, ctx);
  }
  // Entries younger than the racy margin are never trusted: let them age, then walk once.
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  const first = new Map<string, ContextManifest>();
  for (const [name, ctx] of contexts) first.set(name, await buildManifest(ctx, dockerfileOf(ctx)));
  const hasNative = existsSync(path.join(packageRoot(), 'runner-native', 'build', STAT_CHECK_NAME));
  if (!hasNative) t.log(`${STAT_CHECK_NAME} is not built: the JavaScript check alone is tested`);

  const judge = async (ctx: string) => {
    // Native for any size (by default a small context is checked in this process).
    const check = startContextCheck(ctx, dockerfileOf(ctx), nativeStatCheck, 0);
    return { native: await check.native, js: check.snapshot.unchangedOnDisk() };
  };
  // Ignored files may change freely: nothing the build sees did.
  await writeFile(path.join(contexts.get('nothing')!, 'secret.txt'), 'changed, still ignored');
  t.deepEqual(await judge(contexts.get('nothing')!), { native: hasNative ? true : undefined, js: true });
  const again = await buildManifest(contexts.get('nothing')!, dockerfileOf(contexts.get('nothing')!));
  t.true(again.unchanged);
  t.is(again.digest, first.get('nothing')!.digest);

  for (const [name, change] of Object.entries(changes)) {
    const ctx = contexts.get(name)!;
    await change(ctx);
    t.deepEqual(await judge(ctx), { native: hasNative ? false : undefined, js: false }, name);
    const after = await buildManifest(ctx, dockerfileOf(ctx));
    t.false(after.unchanged, name);
    t.not(after.digest, first.get(name)!.digest, name);
    t.is(after.digest, manifestDigest(after.entries()), name);
  }
});

test('a damaged or foreign snapshot file is never trusted', async (t) => {
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const ctx = await tempDir('tsbuild-ctx-');
  await writeFile(path.join(ctx, 'a.txt'), 'a');
  const file = ContextSnapshot.fileFor(path.join(process.env.XDG_CACHE_HOME, 'tsbuild', 'contexts'), ctx, undefined);
  await mkdir(path.dirname(file), { recursive: true });
  for (const bytes of [Buffer.from('TSBSNAP3'), Buffer.alloc(100), Buffer.concat([Buffer.from('TSBSNAP3'), Buffer.alloc(200, 0xff)])]) {
    await writeFile(file, bytes);
    const fd = openSync(file, 'r');
    t.not(await nativeStatCheck(fd), true);
    closeSync(fd);
    const m = await buildManifest(ctx, undefined);
    t.false(m.unchanged);
    t.deepEqual(m.entries().map((e) => e.path), ['a.txt']);
  }
});

test.serial('a walk takes the digest of a file whose stat identity a checksum table knows, and hashes the others', async (t) => {
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const ctx = await tempDir('tsbuild-ctx-');
  await writeFile(path.join(ctx, 'known.txt'), 'known');
  await writeFile(path.join(ctx, 'other.txt'), 'other');
  // What a local build's table says of known.txt (a made-up digest, so that its use shows).
  const told = 'sha256:' + 'c'.repeat(64);
  const asked: string[] = [];
  const table = {
    get: (host: string) => (asked.push(path.basename(host)), host.endsWith('known.txt') ? told : undefined),
    set: () => undefined,
  };
  const manifest = await buildManifest(ctx, undefined, undefined, table);
  const byPath = new Map(manifest.entries().map((e) => [e.path, e.digest]));
  t.is(byPath.get('known.txt'), told);
  t.is(byPath.get('other.txt'), sha('other'));
  t.deepEqual(asked.sort(), ['known.txt', 'other.txt']);
});

test.serial('a local build\'s walk of the whole context gives the snapshot and digest a walk of its own gives, its missing digests found', async (t) => {
  const ctx = await sampleContext((dir) => execFileSync('mkfifo', [path.join(dir, 'fifo')]));
  let walk: readonly ContextWalkEntry[] = [];
  await checksumSelection(await BuildContext.open(ctx, { onWalk: (w, whole) => { if (whole) walk = w; } }), ['.']);
  t.true(walk.some((e) => e.type === 'fifo'), 'the checksum sees the fifo; the manifest does not list it');
  const snapshotOf = (check = startContextCheck(ctx, undefined)) => ({ digest: check.snapshot.digest, checkable: check.snapshot.checkable, rows: Array.from({ length: check.snapshot.size }, (_, i) => check.snapshot.rowAt(i)) });
  const noTable = async () => { throw new Error('every digest was known'); };
  const table = async () => new MemoryContentHashCache();

  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const own = await buildManifest(ctx, undefined);
  const ownSnapshot = snapshotOf();

  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const rows = rowsOfWalk(walk);
  t.is(rows.length, own.entries().length);
  t.is(await manifestOfRows(startContextCheck(ctx, undefined), statContextAround(ctx, undefined), rows, noTable), own.digest);
  t.deepEqual(snapshotOf(), ownSnapshot);

  // Files whose digests the walk did not need: found.
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const partial = walk.map((e) => (e.inRoot === '/src/f3.txt' || e.inRoot === '/Dockerfile' ? { ...e, digest: '' } : e));
  t.is(await manifestOfRows(startContextCheck(ctx, undefined), statContextAround(ctx, undefined), rowsOfWalk(partial), table), own.digest);
  t.deepEqual(snapshotOf(), ownSnapshot);
});
