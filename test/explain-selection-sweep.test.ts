// The explanations' COPY selections (builder/pipeline/explain-history.ts):
// each edit of a COPY's files writes a new one, and the step record moves
// on to it. Past SWEEP_AT selections, writing one removes those no step
// record names that are over a minute old, at most once a minute.
import test from 'ava';
import { readdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { ExplainHistory, SWEEP_AT } from '../builder/pipeline/explain-history.js';
import type { SelectionEntry } from '../builder/context/checksum.js';
import { tempDir } from './helpers/temp-dirs.js';

const digestOf = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
const entries = (i: number): SelectionEntry[] => [{ path: `/f${i}`, type: 'file', mode: '644', uid: 0, gid: 0, link: '', digest: digestOf(i) }];

test('past the limit, writing a selection removes the old ones no step names; named and recent ones stay', async (t) => {
  const history = new ExplainHistory(await tempDir('explain-sweep-'));
  const hour = Date.now() / 1000 - 3600;
  for (let i = 0; i < SWEEP_AT; i++) {
    await history.writeSelection(digestOf(i), entries(i));
    utimesSync(path.join(history.selectionsDir, `${digestOf(i).slice(7)}.json`), hour, hour);
  }
  // At the limit: nothing removed.
  t.is(readdirSync(history.selectionsDir).length, SWEEP_AT);
  await history.writeStep('step-a', { key: 'k', description: { sources: [digestOf(3)] }, inputKeys: [] });
  await history.writeSelection(digestOf(1000), entries(1000));
  t.deepEqual(readdirSync(history.selectionsDir).sort(), [digestOf(3), digestOf(1000)].map((d) => `${d.slice(7)}.json`).sort());
  t.deepEqual(await history.readSelection(digestOf(3)), entries(3));

  // Within the minute after a sweep, none again (the marker's time).
  for (let i = 2000; i <= 2000 + SWEEP_AT; i++) {
    await history.writeSelection(digestOf(i), entries(i));
    utimesSync(path.join(history.selectionsDir, `${digestOf(i).slice(7)}.json`), hour, hour);
  }
  t.is(readdirSync(history.selectionsDir).length, 2 + SWEEP_AT + 1);
});
