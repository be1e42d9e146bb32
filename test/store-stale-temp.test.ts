// A tsbuild killed while the image index's next version waited under its
// temp name (for the image's blobs to be durable) leaves that file in
// images/: the next start removes it, and never a live writer's.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cleanupStale, openStore } from '../builder/store/open-store.js';
import { tempDir } from './helpers/temp-dirs.js';

test("a dead writer's temp image index is removed, a live one's and the index stay", async (t) => {
  const root = await tempDir('tsbuild-stale-temp-');
  const store = await openStore(root);
  await mkdir(store.paths.images, { recursive: true });
  const dead = spawnSync('true').pid!;
  const names = ['index.json', `.tmp-index.json-${dead}-0a1b2c3d4e5f`, `.tmp-index.json-${process.pid}-0a1b2c3d4e5f`];
  for (const n of names) await writeFile(path.join(store.paths.images, n), '{}');
  await cleanupStale(store);
  const left = (await readdir(store.paths.images)).filter((n) => n !== 'index.json.lock').sort();
  t.deepEqual(left, [names[2]!, names[0]!].sort());
});

test('a process looks through a store it cleaned less than a second ago only after that second', async (t) => {
  const root = await tempDir('tsbuild-stale-again-');
  const store = await openStore(root);
  await cleanupStale(store);
  // A tsbuild that died since: its leftover waits for the next look.
  const left = `.tmp-index.json-${spawnSync('true').pid!}-0a1b2c3d4e5f`;
  await writeFile(path.join(store.paths.images, left), '{}');
  await cleanupStale(await openStore(root));
  t.true((await readdir(store.paths.images)).includes(left));
  await new Promise((r) => setTimeout(r, 1100));
  await cleanupStale(store);
  t.false((await readdir(store.paths.images)).includes(left));
});
