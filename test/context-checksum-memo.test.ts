// The store's checksum cache remembers whole COPY selections of a build
// context under a fingerprint of their entries (builder/context/checksum.ts,
// cache/checksum-cache.ts): a no-op rebuild gets the checksum without
// reading a file or loading the per-file table, and every kind of change
// still gives the checksum a cold walk gives.
import test from 'ava';
import { chmod, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PersistentChecksumCache } from '../cache/checksum-cache.js';
import { checksumSelection, type ContentHashCache, type StatKey } from '../builder/context/checksum.js';
import { BuildContext } from '../builder/context/context.js';
import { tempDir } from './helpers/temp-dirs.js';

async function project(): Promise<string> {
  const dir = await tempDir('ctx-memo-');
  await mkdir(path.join(dir, 'src/lib'), { recursive: true });
  await writeFile(path.join(dir, 'src/main.ts'), 'main');
  await writeFile(path.join(dir, 'src/lib/util.ts'), 'util');
  await writeFile(path.join(dir, 'ignored.log'), 'log');
  await writeFile(path.join(dir, '.dockerignore'), '*.log\n');
  await symlink('main.ts', path.join(dir, 'src/link'));
  return dir;
}

/** The store's cache for `dir`, counting what a selection asked of it. */
async function openCounted(store: string, dir: string, clockAhead = 10_000) {
  // A clock ahead of the files' ctimes: everything just written counts as safely old.
  const inner = await PersistentChecksumCache.open(store, dir, { deferEntries: true, now: () => Date.now() + clockAhead });
  const calls = { load: 0, get: 0 };
  const cache: ContentHashCache & { save(): Promise<boolean> } = {
    load: () => { calls.load++; return inner.load(); },
    get: (p: string, k: StatKey) => { calls.get++; return inner.get(p, k); },
    set: (p: string, k: StatKey, d: string) => inner.set(p, k, d),
    selectionDigest: (key: string, fp: string) => inner.selectionDigest(key, fp),
    rememberSelection: (key: string, fp: string, d: string, from: number) => inner.rememberSelection(key, fp, d, from),
    save: () => inner.save(),
  };
  return { cache, calls };
}

const cold = async (dir: string, patterns: string[], exclude?: string[]) => checksumSelection(await BuildContext.open(dir), patterns, { exclude });

async function build(store: string, dir: string, patterns: string[], exclude?: string[]) {
  const { cache, calls } = await openCounted(store, dir);
  const digest = await checksumSelection(await BuildContext.open(dir), patterns, { cache, exclude });
  await cache.save();
  return { digest, calls };
}

test('a remembered selection needs no file read; each kind of change gives the cold checksum', async (t) => {
  const dir = await project();
  const store = await tempDir('ctx-memo-store-');
  const first = await build(store, dir, ['.']);
  t.is(first.digest, await cold(dir, ['.']));
  t.true(first.calls.load > 0);

  const again = await build(store, dir, ['.']);
  t.is(again.digest, first.digest);
  t.deepEqual(again.calls, { load: 0, get: 0 }, 'neither the per-file table nor a file was read');

  const changes: [string, () => Promise<void>][] = [
    ['same-size rewrite', () => writeFile(path.join(dir, 'src/main.ts'), 'MAIN')],
    ['mode', () => chmod(path.join(dir, 'src/lib/util.ts'), 0o700)],
    ['new file', () => writeFile(path.join(dir, 'src/lib/new.ts'), '')],
    ['removed file', () => rm(path.join(dir, 'src/lib/new.ts'))],
    ['renamed file', () => rename(path.join(dir, 'src/lib/util.ts'), path.join(dir, 'src/lib/util2.ts'))],
    ['symlink target', async () => { await rm(path.join(dir, 'src/link')); await symlink('lib', path.join(dir, 'src/link')); }],
    ['.dockerignore lets a file in', () => writeFile(path.join(dir, '.dockerignore'), '')],
  ];
  let previous = first.digest;
  for (const [what, change] of changes) {
    await change();
    const { digest, calls } = await build(store, dir, ['.']);
    t.is(digest, await cold(dir, ['.']), what);
    t.not(digest, previous, what);
    t.true(calls.load > 0, `${what}: walked file by file`);
    const hit = await build(store, dir, ['.']);
    t.is(hit.digest, digest, `${what}: remembered`);
    t.is(hit.calls.load, 0, `${what}: remembered`);
    previous = digest;
  }
});

test('selections are remembered apart (patterns, --exclude), and not while an entry is racy', async (t) => {
  const dir = await project();
  const store = await tempDir('ctx-memo-store-');
  const all = await build(store, dir, ['src']);
  const some = await build(store, dir, ['src'], ['lib']);
  t.not(all.digest, some.digest);
  t.is((await build(store, dir, ['src'])).digest, all.digest);
  const excluded = await build(store, dir, ['src'], ['lib']);
  t.is(excluded.digest, some.digest);
  t.is(excluded.calls.load, 0);
  const saved = JSON.parse(await readFile(PersistentChecksumCache.fileFor(store, dir).replace(/\.json$/, '.sel.json'), 'utf8')) as { sel: unknown[] };
  t.is(saved.sel.length, 2);

  // With the real clock, a file written just now is racy: its selection is
  // not remembered, so the next process walks it file by file again (this
  // one keeps it in memory: context-checksum-recent.test.ts).
  const racyStore = await tempDir('ctx-memo-store-');
  await writeFile(path.join(dir, 'src/main.ts'), 'fresh');
  for (let i = 0; i < 2; i++) {
    const { cache, calls } = await openCounted(racyStore, dir, 0);
    t.is(await checksumSelection(await BuildContext.open(dir), ['src'], { cache }), await cold(dir, ['src']));
    await cache.save();
    t.is(calls.get, i === 0 ? 2 : 0, `build ${i + 1}`);
  }
  const racySelections = PersistentChecksumCache.fileFor(racyStore, dir).replace(/\.json$/, '.sel.json');
  t.is(await readFile(racySelections, 'utf8').catch(() => undefined), undefined, 'a racy selection is not saved');
});
