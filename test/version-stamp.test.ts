// Version stamps (cache/version-stamp.ts): every version a stamping writer
// makes has a time of its own, later than the one it replaced, whatever
// the clock says; the build memo tells versions apart by them.
import test from 'ava';
import { mkdirSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stampAfter, stampDirectory, stampedHere, stampsSoFar } from '../cache/version-stamp.js';
import { ResultIndex, resultEntryPath } from '../cache/result-index.js';
import { fixture, tempDir } from './image-helpers.js';

const HOUR = 3_600_000;

test('a stamp is later than the time it replaces, even one ahead of the clock', async (t) => {
  const dir = await tempDir();
  const file = path.join(dir, 'f');
  writeFileSync(file, 'x');
  const ahead = (Date.now() + HOUR) / 1000;
  utimesSync(file, ahead, ahead);
  t.true(stampAfter(file) > statSync(file).mtimeMs);
  t.true(stampAfter(path.join(dir, 'absent')) >= Date.now() - 1000);
});

test('each version of the image index is stamped later than the one it replaced', async (t) => {
  const { images, image } = await fixture();
  await images.tag('app:v1', image.manifestDigest);
  const index = path.join(images.dir, 'index.json');
  // The version now there, as a clock ahead of this one would have stamped it.
  const ahead = (Date.now() + HOUR) / 1000;
  utimesSync(index, ahead, ahead);
  const before = statSync(index).mtimeMs;
  await images.tag('app:v2', image.manifestDigest);
  const after = statSync(index).mtimeMs;
  t.true(after > before, `${after} after ${before}`);
  await images.tag('app:v3', image.manifestDigest);
  t.true(statSync(index).mtimeMs > after);
});

test('a cache entry put stamps its directory; any change after makes it not this process\'s stamp', async (t) => {
  const dir = await tempDir();
  const results = new ResultIndex<{ n: number }>(dir);
  const key = `sha256:${'ab'.repeat(32)}`;
  const entryDir = path.dirname(resultEntryPath(dir, key));
  mkdirSync(entryDir, { recursive: true });
  t.false(stampedHere(entryDir, statSync(entryDir).mtimeMs, stampsSoFar()));
  await results.put(key, { n: 1 });
  t.true(stampedHere(entryDir, statSync(entryDir).mtimeMs, stampsSoFar()));
  // Another writer renames a file in: the kernel's time, not the stamp.
  writeFileSync(path.join(entryDir, 'other.tmp'), '{}');
  renameSync(path.join(entryDir, 'other.tmp'), path.join(entryDir, 'other.json'));
  t.false(stampedHere(entryDir, statSync(entryDir).mtimeMs, stampsSoFar()));
  stampDirectory(entryDir);
  t.true(stampedHere(entryDir, statSync(entryDir).mtimeMs, stampsSoFar()));
});

test('a stamp given after a point is not counted as in place at that point (a server\'s concurrent build)', async (t) => {
  const dir = await tempDir();
  const results = new ResultIndex<{ n: number }>(dir);
  const key = `sha256:${'cd'.repeat(32)}`;
  const entryDir = path.dirname(resultEntryPath(dir, key));
  await results.put(key, { n: 1 });
  const started = stampsSoFar();
  t.true(stampedHere(entryDir, statSync(entryDir).mtimeMs, started));
  // Another build in the same process puts an entry there after that start.
  await results.put(`sha256:${'cd'.repeat(31)}ce`, { n: 2 });
  t.false(stampedHere(entryDir, statSync(entryDir).mtimeMs, started));
  t.true(stampedHere(entryDir, statSync(entryDir).mtimeMs, stampsSoFar()));
});
