// A local build that misses the memo walks its context with the lstats
// the memo lookup's native check just took (builder/context/prestat.ts):
// the check's table is each entry's lstat, a walk with it gives the
// selection a walk without it gives, and an entry changed too shortly
// before the table was taken is lstat'ed again.
import test from 'ava';
import path from 'node:path';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { buildManifest, startContextCheck } from '../builder/remote/context-manifest.js';
import { nativeStatCheck, STAT_CHECK_NAME, TABLE_NUMS } from '../builder/remote/native-stat-check.js';
import { forgetPrestat, publishPrestat, type PrestatTable } from '../builder/context/prestat.js';
import { BuildContext, type ContextWalkEntry } from '../builder/context/context.js';
import { checksumSelection, MemoryContentHashCache } from '../builder/context/checksum.js';
import { RACY_MARGIN_MS } from '../cache/checksum-cache.js';
import { packageRoot } from '../runner-native/package-root.js';
import { tempDir } from './helpers/temp-dirs.js';

const hasNative = existsSync(path.join(packageRoot(), 'runner-native', 'build', STAT_CHECK_NAME));

async function aContext(): Promise<string> {
  const ctx = await tempDir('tsbuild-prestat-');
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
  await writeFile(path.join(ctx, '.dockerignore'), 'ignored*\n');
  await writeFile(path.join(ctx, 'ignored.txt'), 'not in the context');
  for (const d of ['a', 'b', 'b/c']) await mkdir(path.join(ctx, d));
  for (let i = 0; i < 12; i++) await writeFile(path.join(ctx, i % 3 === 0 ? 'a' : i % 3 === 1 ? 'b' : 'b/c', `f${i}.txt`), `file ${i}`);
  await symlink('a/f0.txt', path.join(ctx, 'link'));
  return ctx;
}

// The table a changed context's native check hands over (its snapshot made by a first walk).
async function tableAfter(ctx: string, change: () => Promise<void>): Promise<PrestatTable | undefined> {
  await buildManifest(ctx, path.join(ctx, 'Dockerfile'));
  await change();
  let table: PrestatTable | undefined;
  const check = startContextCheck(ctx, path.join(ctx, 'Dockerfile'), (fd) => nativeStatCheck(fd, (nums, takenAt) => {
    table = { root: check.root, takenAt, names: check.snapshot.names, nums };
  }), 0);
  await check.native;
  return table;
}

async function walked(ctx: string): Promise<{ checksum: string; entries: readonly ContextWalkEntry[] }> {
  let entries: readonly ContextWalkEntry[] = [];
  const tree = await BuildContext.open(ctx, { dockerfilePath: path.join(ctx, 'Dockerfile'), onWalk: (e) => { entries = e; } });
  const checksum = await checksumSelection(tree, ['.'], { cache: new MemoryContentHashCache() });
  return { checksum, entries };
}

test.before(async () => {
  process.env.XDG_CACHE_HOME = await tempDir('tsbuild-prestat-cache-');
});
test.afterEach.always(() => forgetPrestat());

test.serial('the native check of a changed context gives every row its lstat, and zeros for one gone', async (t) => {
  if (!hasNative) return t.pass(`${STAT_CHECK_NAME} is not built`);
  const ctx = await aContext();
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  const table = await tableAfter(ctx, async () => {
    await writeFile(path.join(ctx, 'a', 'f3.txt'), 'edited, and longer');
    await rm(path.join(ctx, 'b', 'f4.txt'));
  });
  t.truthy(table);
  t.true(table!.names.includes('b/f4.txt') && table!.names.includes('link') && !table!.names.includes('ignored.txt'));
  t.is(table!.nums.length, table!.names.length * TABLE_NUMS);
  table!.names.forEach((name, i) => {
    const row = Array.from(table!.nums.subarray(i * TABLE_NUMS, (i + 1) * TABLE_NUMS));
    const st = lstatSync(path.join(ctx, name), { throwIfNoEntry: false });
    t.deepEqual(row, st ? [st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev, st.uid, st.gid, st.nlink] : new Array(TABLE_NUMS).fill(0), name);
  });
});

test.serial('a walk with the table gives the selection a walk without it gives', async (t) => {
  if (!hasNative) return t.pass(`${STAT_CHECK_NAME} is not built`);
  const ctx = await aContext();
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  const table = await tableAfter(ctx, async () => {
    await writeFile(path.join(ctx, 'b', 'c', 'f2.txt'), 'edited');
    await writeFile(path.join(ctx, 'a', 'new.txt'), 'added');
    await rm(path.join(ctx, 'b', 'f7.txt'));
  });
  publishPrestat(table!);
  const withTable = await walked(ctx);
  forgetPrestat();
  const without = await walked(ctx);
  t.is(withTable.checksum, without.checksum);
  t.deepEqual(withTable.entries.map((e) => [e.inRoot, e.type, e.size, e.mtimeMs, e.ctimeMs, e.ino]), without.entries.map((e) => [e.inRoot, e.type, e.size, e.mtimeMs, e.ctimeMs, e.ino]));
});

test.serial('an entry changed too shortly before the table was taken is lstat\'ed again; an older one is not', async (t) => {
  if (!hasNative) return t.pass(`${STAT_CHECK_NAME} is not built`);
  const ctx = await aContext();
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  const table = await tableAfter(ctx, () => writeFile(path.join(ctx, 'a', 'f0.txt'), 'just edited'));
  // Both rows say 1 byte: only the settled one's may be believed.
  const row = (name: string) => table!.names.indexOf(name) * TABLE_NUMS;
  table!.nums[row('a/f0.txt') + 1] = 1;
  table!.nums[row('b/f1.txt') + 1] = 1;
  publishPrestat(table!);
  const { entries } = await walked(ctx);
  const size = (inRoot: string) => entries.find((e) => e.inRoot === inRoot)?.size;
  t.is(size('/a/f0.txt'), 'just edited'.length, 'racy at the table: lstat\'ed again');
  t.is(size('/b/f1.txt'), 1, 'settled at the table: taken from it');
});

test.serial('a table of another context is not used', async (t) => {
  if (!hasNative) return t.pass(`${STAT_CHECK_NAME} is not built`);
  const ctx = await aContext();
  const other = await aContext();
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 200));
  const table = await tableAfter(other, () => writeFile(path.join(other, 'a', 'f0.txt'), 'edited'));
  // The same names there: believed here, its sizes would show.
  for (let i = 0; i < table!.names.length; i++) table!.nums[i * TABLE_NUMS + 1] = 1;
  publishPrestat(table!);
  const { entries } = await walked(ctx);
  t.is(entries.find((e) => e.inRoot === '/b/f1.txt')?.size, 'file 1'.length);
});
