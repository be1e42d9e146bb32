// The persistent per-file checksum table (cache/checksum-cache.ts): what a
// save keeps (every loaded row still trusted, the new ones that are not
// racy), what a reload gives back, and a damaged table read as empty.
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PersistentChecksumCache } from '../cache/checksum-cache.js';
import { tempDir } from './helpers/temp-dirs.js';

const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
// Whole-millisecond ctimes: the coarse (2 s) racy margin applies.
const key = (i: number, at: number) => ({ dev: 64, ino: 1000 + i, size: i, mtimeMs: at, ctimeMs: at });
const NOW = 1_700_000_000_000;

test('a save keeps the loaded rows and the trusted new ones; a reload gives them back; a damaged table is empty', async (t) => {
  const dir = await tempDir('checksum-cache-');
  const ctx = '/ctx';
  const first = await PersistentChecksumCache.open(dir, ctx, { now: () => NOW });
  for (let i = 0; i < 100; i++) first.set(`/ctx/f${i}`, key(i, NOW - 60_000), digest(i));
  // Changed just before this session started: racy, used now but not saved.
  first.set('/ctx/racy', key(500, NOW - 500), digest(500));
  first.set('/outside/abs', key(501, NOW - 60_000), digest(501));
  t.true(await first.save());
  t.false(await first.save(), 'nothing changed since');

  const second = await PersistentChecksumCache.open(dir, ctx, { now: () => NOW + 10_000, deferEntries: true });
  await second.load();
  t.is(second.size, 101);
  t.is(second.get('/ctx/f7', key(7, NOW - 60_000)), digest(7));
  t.is(second.get('/outside/abs', key(501, NOW - 60_000)), digest(501));
  t.is(second.get('/ctx/racy', key(500, NOW - 500)), undefined);
  t.is(second.get('/ctx/f7', { ...key(7, NOW - 60_000), size: 8 }), undefined, 'another stat identity is another file');
  // One file re-hashed: the rest is carried over as loaded, in order, the new row last.
  second.set('/ctx/f3', key(3, NOW - 5_000), digest(333));
  t.true(await second.save());
  const saved = JSON.parse(await readFile(PersistentChecksumCache.fileFor(dir, ctx), 'utf8')) as { names: string[]; nums: number[]; digests: string };
  t.is(saved.names.length, 101);
  t.is(saved.names.at(-1), 'f3');
  t.is(saved.digests.length, 101 * 64);

  const third = await PersistentChecksumCache.open(dir, ctx, { now: () => NOW + 20_000 });
  t.is(third.get('/ctx/f3', key(3, NOW - 5_000)), digest(333));
  t.is(third.get('/ctx/f3', key(3, NOW - 60_000)), undefined);
  t.is(third.get('/ctx/f99', key(99, NOW - 60_000)), digest(99));

  // A digest column that is not all hex is a damaged table: nothing of it is trusted.
  await writeFile(PersistentChecksumCache.fileFor(dir, ctx), JSON.stringify({ ...saved, digests: 'z' + saved.digests.slice(1) }));
  const damaged = await PersistentChecksumCache.open(dir, ctx, { now: () => NOW + 30_000 });
  t.is(damaged.size, 0);
  t.is(damaged.get('/ctx/f99', key(99, NOW - 60_000)), undefined);
  t.is(path.dirname(damaged.file), dir);
});

test('a save that has only racy rows to add leaves the table as it is', async (t) => {
  const dir = await tempDir('checksum-cache-');
  const ctx = '/ctx';
  const first = await PersistentChecksumCache.open(dir, ctx, { now: () => NOW });
  for (let i = 0; i < 10; i++) first.set(`/ctx/f${i}`, key(i, NOW - 60_000), digest(i));
  t.true(await first.save());
  const before = await readFile(first.file);

  // The rebuild right after an edit: the edited file's new identity is racy, nothing else is set.
  const second = await PersistentChecksumCache.open(dir, ctx, { now: () => NOW + 60_000 });
  second.set('/ctx/f3', key(3, NOW + 59_500), digest(333));
  t.is(second.get('/ctx/f3', key(3, NOW + 59_500)), digest(333), 'usable within the build that hashed it');
  t.false(await second.save());
  t.deepEqual(await readFile(first.file), before);

  // The row it would have dropped names the old identity: it never matches the file as it is now.
  const third = await PersistentChecksumCache.open(dir, ctx, { now: () => NOW + 120_000 });
  t.is(third.get('/ctx/f3', key(3, NOW + 59_500)), undefined);
  // Once a trusted row is set, the save writes, without the racy one.
  third.set('/ctx/f4', key(4, NOW + 60_000), digest(444));
  t.true(await third.save());
  const saved = JSON.parse(await readFile(first.file, 'utf8')) as { names: string[] };
  t.is(saved.names.length, 10);
  t.is(saved.names.at(-1), 'f4');
});
