// The remote client's manifest: what it lists (ignore rules applied, walk
// order, digests of the bytes) and the snapshot of the last walk, which
// lets an unchanged context skip hashing and building the list while any
// change (an edit of the same size, an added or removed file, a new
// symlink target) still shows.
import test from 'ava';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { buildManifest } from '../builder/remote/context-manifest.js';
import { manifestDigest } from '../builder/remote/manifest-digest.js';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { tempDir } from './helpers/temp-dirs.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

test.serial('an unchanged context reuses the last walk; edits, additions, removals and relinks are seen', async (t) => {
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-client-cache-');
  const ctx = await tempDir('tsbuild-ctx-');
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\n');
  await writeFile(path.join(ctx, '.dockerignore'), 'secret*\n');
  await writeFile(path.join(ctx, 'secret.txt'), 'never listed');
  await mkdir(path.join(ctx, 'src'));
  for (let i = 0; i < 20; i++) await writeFile(path.join(ctx, 'src', `f${i}.txt`), `file ${i}`);
  await symlink('src/f1.txt', path.join(ctx, 'link'));
  // Files younger than the racy margin are never trusted: let them age.
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));

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

  // A snapshot not rewritten for a month is forgotten when another is saved.
  const stale = path.join(process.env.XDG_CACHE_HOME, 'tsbuild', 'contexts', 'stale.json');
  await writeFile(stale, '{}');
  await utimes(stale, new Date(Date.now() - 40 * 86400_000), new Date(Date.now() - 40 * 86400_000));
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
