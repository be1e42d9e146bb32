// The local memo's second solve takes the build's own walk of the whole
// context (kept in this process, builder/context/recent-selections.ts)
// instead of an lstat of every entry again: only when the walk's root and
// every file racy at that walk's start are as it saw them, nothing else
// was racy then, and the ignore rules are the same; anything else walks,
// and gives the checksum a cold walk gives. Serial: the kept selections are
// a few per process, and tests running at once would push each other's out.
import test from 'ava';
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PersistentChecksumCache, racyMargin } from '../cache/checksum-cache.js';
import { checksumSelection, type SelectionOptions } from '../builder/context/checksum.js';
import { BuildContext, type ContextWalkEntry } from '../builder/context/context.js';
import { rememberRecent, reusableWalk, type RecentEntry } from '../builder/context/recent-selections.js';
import { tempDir } from './helpers/temp-dirs.js';

const cold = async (dir: string) => checksumSelection(await BuildContext.open(dir), ['.']);

/** A checksum of COPY . through the store's cache, as a build makes it; the entries its walk told. */
async function solve(store: string, dir: string, contextWalk: SelectionOptions['contextWalk'], patterns = ['.']) {
  const cache = await PersistentChecksumCache.open(store, dir, { deferEntries: true });
  let walked: readonly ContextWalkEntry[] | undefined;
  const ctx = await BuildContext.open(dir, { onWalk: (w, whole) => { if (whole) walked = w; } });
  const digest = await checksumSelection(ctx, patterns, { cache, contextWalk });
  await cache.save();
  return { digest, walked };
}

const settle = async (file: string) => sleep(racyMargin((await stat(file)).ctimeMs) + 50);

// A modification time ahead of the clock keeps an entry racy for as long as the test needs, however slow the machine.
const keepRecent = async (p: string) => {
  const ahead = new Date(Date.now() + 10_000);
  await utimes(p, ahead, ahead);
};

/** Twenty files old enough to be trusted, then one just edited (racy for the walk that follows). */
async function editedProject(): Promise<string> {
  const dir = await tempDir('ctx-reuse-');
  await mkdir(path.join(dir, 'src'));
  for (let i = 0; i < 20; i++) await writeFile(path.join(dir, `src/f${i}.ts`), `file ${i}`);
  await settle(path.join(dir, 'src/f0.ts'));
  await writeFile(path.join(dir, 'src/f7.ts'), 'file 7, edited');
  await keepRecent(path.join(dir, 'src/f7.ts'));
  return dir;
}

/** Rewrites a file with the same size and puts its mtime back (an editor's save-and-restore, a copy back). */
async function rewriteKeepingTimes(file: string, content: string): Promise<void> {
  const times = path.join(await tempDir('ctx-reuse-times-'), 'ref');
  await writeFile(times, '');
  execFileSync('touch', ['-r', file, times]);
  await writeFile(file, content);
  execFileSync('touch', ['-r', times, file]);
}

test.serial('the second solve takes the kept walk itself, its racy file read again, and gives the checksum a cold walk gives', async (t) => {
  const dir = await editedProject();
  const store = await tempDir('ctx-reuse-store-');
  const first = await solve(store, dir, 'keep');
  const second = await solve(store, dir, 'reuse');
  t.is(second.walked, first.walked, 'the same entries, not a walk of its own');
  t.is(second.digest, first.digest);
  t.is(second.digest, await cold(dir));
  // A user's build never reuses: without 'reuse' it walks.
  const third = await solve(store, dir, 'keep');
  t.not(third.walked, first.walked);
  t.is(third.digest, first.digest);
});

test.serial('a racy file rewritten after the kept walk with its size and mtime kept: walked again, the new content counted', async (t) => {
  const dir = await editedProject();
  const store = await tempDir('ctx-reuse-store-');
  const first = await solve(store, dir, 'keep');
  await rewriteKeepingTimes(path.join(dir, 'src/f7.ts'), 'FILE 7, EDITED');
  const second = await solve(store, dir, 'reuse');
  t.not(second.walked, first.walked);
  t.not(second.digest, first.digest);
  t.is(second.digest, await cold(dir));
});

test.serial('a directory racy at the kept walk\'s start: no reuse', async (t) => {
  const dir = await editedProject();
  // Added just before the walk: src's listing changed within the racy margin.
  await writeFile(path.join(dir, 'src/new.ts'), 'new');
  await keepRecent(path.join(dir, 'src'));
  const store = await tempDir('ctx-reuse-store-');
  const first = await solve(store, dir, 'keep');
  const second = await solve(store, dir, 'reuse');
  t.not(second.walked, first.walked);
  t.is(second.digest, first.digest);
});

test.serial('the root\'s listing changed after the kept walk: walked again, the new entry counted', async (t) => {
  const dir = await editedProject();
  const store = await tempDir('ctx-reuse-store-');
  const first = await solve(store, dir, 'keep');
  await writeFile(path.join(dir, 'added.txt'), 'added');
  const second = await solve(store, dir, 'reuse');
  t.not(second.walked, first.walked);
  t.true(second.walked!.some((e) => e.inRoot === '/added.txt'));
  t.is(second.digest, await cold(dir));
});

test.serial('other ignore rules than the kept walk\'s: walked again through them', async (t) => {
  const dir = await editedProject();
  await writeFile(path.join(dir, '.dockerignore'), 'nothing-here\n');
  await settle(path.join(dir, '.dockerignore'));
  const store = await tempDir('ctx-reuse-store-');
  const first = await solve(store, dir, 'keep');
  // The same size, so that only the patterns differ; the root's listing is unchanged.
  await rewriteKeepingTimes(path.join(dir, '.dockerignore'), 'src/f3.ts   \n');
  const second = await solve(store, dir, 'reuse');
  t.not(second.walked, first.walked);
  t.false(second.walked!.some((e) => e.inRoot === '/src/f3.ts'));
  t.is(second.digest, await cold(dir));
});

test.serial('only a whole context is kept: a selection of part of it walks', async (t) => {
  const dir = await editedProject();
  const store = await tempDir('ctx-reuse-store-');
  const first = await solve(store, dir, 'keep', ['src']);
  const second = await solve(store, dir, 'reuse', ['src']);
  t.is(first.walked, undefined);
  t.is(second.digest, first.digest);
  t.is(second.digest, await checksumSelection(await BuildContext.open(dir), ['src']));
});

// The rule itself, on entries made up.
const entry = (changedAt: number, digest: string, type = 'file'): RecentEntry => ({ type, mtimeMs: changedAt, ctimeMs: changedAt + 0.5, digest });

test.serial('a kept walk is given back only when its root and racy files are unchanged, nothing else was racy and the rules are the same', (t) => {
  const startedAt = 1_000_000;
  const old = startedAt - 10_000;
  const keep = { variant: 'rules', trustedFrom: startedAt - 5 };
  const root = entry(old, '', 'dir');
  const walk = [root, entry(old, 'sha256:a'), entry(startedAt - 20, 'sha256:b'), entry(old, '', 'dir')];
  rememberRecent('kw', 'fp', 'sha256:sum', walk, startedAt, keep);
  const asked: RecentEntry[] = [];
  const reused = reusableWalk('kw', 'rules', (e) => { asked.push(e); return true; });
  t.is(reused?.entries, walk);
  t.is(reused?.fingerprint, 'fp');
  t.is(reused?.trustedFrom, keep.trustedFrom);
  t.is(reused?.startedAt, startedAt);
  t.deepEqual(asked, [root, walk[2]], 'the root and the racy file are lstat\'ed again, nothing else');
  t.is(reusableWalk('kw', 'other rules', () => true), undefined);
  t.is(reusableWalk('kw', 'rules', (e) => e !== walk[2]), undefined, 'the racy file changed');
  t.is(reusableWalk('kw', 'rules', (e) => e !== root), undefined, 'the root changed');

  rememberRecent('kw', 'fp', 'sha256:sum', walk, startedAt);
  t.is(reusableWalk('kw', 'rules', () => true), undefined, 'remembered without keeping its walk');

  for (const type of ['dir', 'symlink']) {
    rememberRecent('kw', 'fp', 'sha256:sum', [root, entry(startedAt - 20, '', type)], startedAt, keep);
    t.is(reusableWalk('kw', 'rules', () => true), undefined, `a racy ${type}`);
  }
});
