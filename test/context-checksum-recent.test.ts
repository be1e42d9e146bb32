// A selection checksummed again in the same process (the local memo's
// second solve right after a build) takes its files' digests from the
// first walk when the fingerprint is the same (builder/context/
// recent-selections.ts): files changed too shortly before that walk are
// read again, and any change since gives the checksum a cold walk gives.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PersistentChecksumCache, racyMargin } from '../cache/checksum-cache.js';
import { checksumSelection, type ContentHashCache, type StatKey } from '../builder/context/checksum.js';
import { BuildContext, type ContextWalkEntry } from '../builder/context/context.js';
import { recentChecksum, rememberRecent, type RecentEntry } from '../builder/context/recent-selections.js';
import { tempDir } from './helpers/temp-dirs.js';

/** The store's cache for `dir` on the real clock, counting what a selection asked of it. */
async function openCounted(store: string, dir: string) {
  const inner = await PersistentChecksumCache.open(store, dir, { deferEntries: true });
  const calls = { load: 0, get: 0 };
  const cache: ContentHashCache = {
    load: () => { calls.load++; return inner.load(); },
    get: (p: string, k: StatKey) => { calls.get++; return inner.get(p, k); },
    set: (p: string, k: StatKey, d: string) => inner.set(p, k, d),
    selectionDigest: (key: string, fp: string) => inner.selectionDigest(key, fp),
    rememberSelection: (key: string, fp: string, d: string, from: number) => inner.rememberSelection(key, fp, d, from),
  };
  return { cache, calls, save: () => inner.save() };
}

const cold = async (dir: string) => checksumSelection(await BuildContext.open(dir), ['.']);

async function build(store: string, dir: string) {
  const { cache, calls, save } = await openCounted(store, dir);
  const digest = await checksumSelection(await BuildContext.open(dir), ['.'], { cache });
  await save();
  return { digest, calls };
}

/** A context whose files are old enough for the racy rule to trust them, and one just edited. */
async function editedProject(): Promise<string> {
  const dir = await tempDir('ctx-recent-');
  await mkdir(path.join(dir, 'src'));
  for (let i = 0; i < 20; i++) await writeFile(path.join(dir, `src/f${i}.ts`), `file ${i}`);
  const st = await stat(path.join(dir, 'src/f0.ts'));
  await sleep(racyMargin(st.ctimeMs) + 50);
  await writeFile(path.join(dir, 'src/f7.ts'), 'file 7, edited');
  return dir;
}

test('the same selection again in this process: neither the per-file table nor a trusted file is read', async (t) => {
  const dir = await editedProject();
  const store = await tempDir('ctx-recent-store-');
  const first = await build(store, dir);
  t.is(first.digest, await cold(dir));
  t.true(first.calls.load > 0);
  const again = await build(store, dir);
  t.is(again.digest, first.digest);
  t.deepEqual(again.calls, { load: 0, get: 0 });
});

test('a file rewritten with its size and mtime kept between the two checksums gives the cold checksum', async (t) => {
  const dir = await editedProject();
  const store = await tempDir('ctx-recent-store-');
  const file = path.join(dir, 'src/f3.ts');
  const first = await build(store, dir);
  const before = await stat(file);
  // The times to the nanosecond, as a file copied back or an editor's save-and-restore leaves them.
  const times = path.join(await tempDir('ctx-recent-times-'), 'ref');
  await writeFile(times, '');
  execFileSync('touch', ['-r', file, times]);
  await writeFile(file, 'FILE 3');
  execFileSync('touch', ['-r', times, file]);
  const after = await stat(file);
  t.is(after.mtimeMs, before.mtimeMs);
  t.is(after.size, before.size);
  const again = await build(store, dir);
  t.not(again.digest, first.digest);
  t.is(again.digest, await cold(dir));
  // The store's selection memo was saved by neither: the edit of f7 was racy in the first, f3's in the second.
  t.true(again.calls.load > 0, 'checksummed file by file');
});

test('the walk is told every file\'s digest, the just-edited one read again', async (t) => {
  const dir = await editedProject();
  const store = await tempDir('ctx-recent-store-');
  await build(store, dir);
  const { cache } = await openCounted(store, dir);
  let walked: readonly ContextWalkEntry[] = [];
  const digest = await checksumSelection(await BuildContext.open(dir, { onWalk: (w, whole) => { if (whole) walked = w; } }), ['.'], { cache });
  t.is(digest, await cold(dir));
  // The local memo's snapshot of the context is made of these digests.
  const files = walked.filter((e) => e.type === 'file');
  t.is(files.length, 20);
  for (const f of files) t.is(f.digest, `sha256:${createHash('sha256').update(await readFile(path.join(dir, f.inRoot))).digest('hex')}`, f.inRoot);
  const saved = JSON.parse(await readFile(PersistentChecksumCache.fileFor(store, dir), 'utf8')) as { names: string[] };
  t.false(saved.names.includes('src/f7.ts'), 'the edited file was racy when the first checksum saved the table');
});

test('remembered by the store too (nothing racy), the same selection again still tells the walk its digests', async (t) => {
  const dir = await editedProject();
  await sleep(racyMargin((await stat(path.join(dir, 'src/f7.ts'))).ctimeMs) + 50);
  const store = await tempDir('ctx-recent-store-');
  await build(store, dir);
  const { cache, calls } = await openCounted(store, dir);
  let walked: readonly ContextWalkEntry[] = [];
  t.is(await checksumSelection(await BuildContext.open(dir, { onWalk: (w, whole) => { if (whole) walked = w; } }), ['.'], { cache }), await cold(dir));
  t.deepEqual(calls, { load: 0, get: 0 });
  t.true(walked.filter((e) => e.type === 'file').every((e) => /^sha256:[0-9a-f]{64}$/.test(e.digest)));
});

// The rule itself, on entries made up: what is read, and what the answer is.
const entry = (changedAt: number, digest: string, type = 'file'): RecentEntry => ({ type, mtimeMs: changedAt, ctimeMs: changedAt + 0.5, digest });

test('only files changed within the racy margin of the first walk are read again; a different read gives the computed checksum', async (t) => {
  const walkStartedAt = 1_000_000;
  const old = walkStartedAt - 10_000;
  const first = [entry(old, 'sha256:a'), entry(walkStartedAt - 20, 'sha256:b'), entry(walkStartedAt - 20, '', 'dir'), entry(old, 'sha256:c')];
  rememberRecent('k', 'fp', 'sha256:sum', first, walkStartedAt);

  const walk = () => first.map((e) => ({ ...e, digest: '' }));
  const reads: string[] = [];
  const same = walk();
  t.is(await recentChecksum('k', 'fp', same, async (files) => { for (const f of files) { reads.push(f.digest); f.digest = 'sha256:b'; } }, () => 'computed'), 'sha256:sum');
  t.deepEqual(same.map((e) => e.digest), ['sha256:a', 'sha256:b', '', 'sha256:c']);
  t.deepEqual(reads, [''], 'only the racy file is read');

  const changed = walk();
  t.is(await recentChecksum('k', 'fp', changed, async (files) => { for (const f of files) f.digest = 'sha256:B'; }, () => 'computed'), 'computed');
  t.is(changed[1]!.digest, 'sha256:B');

  t.is(await recentChecksum('k', 'other', walk(), async () => undefined, () => 'computed'), undefined, 'another fingerprint');
  t.is(await recentChecksum('k', 'fp', walk().slice(1), async () => undefined, () => 'computed'), undefined, 'another count');
});
