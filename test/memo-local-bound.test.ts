// The local memo keeps at most 256 answers: recording one more removes the
// oldest, down to 192, and temporary files a dead writer left go once a
// minute old, whether or not the memo is full.
import test from 'ava';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { memoDir, writeLocalMemo } from '../builder/memo/local-memo.js';
import { tempDir } from './helpers/temp-dirs.js';

const entry = { messages: [], checks: [], entryFiles: [] };

async function memoWith(answers: number): Promise<{ root: string; dir: string }> {
  const root = await tempDir('memo-bound-');
  const dir = memoDir(root);
  writeLocalMemo(root, 'first', entry);
  const base = Date.now() / 1000 - 3600;
  for (let i = 0; i < answers; i++) {
    const file = path.join(dir, `answer-${i}`);
    writeFileSync(file, '{}');
    utimesSync(file, base + i, base + i);
  }
  // A dead writer's file, and one still being written.
  writeFileSync(path.join(dir, '.tmp-1-dead'), '');
  utimesSync(path.join(dir, '.tmp-1-dead'), base, base);
  writeFileSync(path.join(dir, '.tmp-2-live'), '');
  return { root, dir };
}

test('within the bound: every answer stays, only an old temporary file goes', async (t) => {
  const { root, dir } = await memoWith(10);
  writeLocalMemo(root, 'new', entry);
  const names = readdirSync(dir);
  t.false(names.includes('.tmp-1-dead'));
  t.true(names.includes('.tmp-2-live'));
  for (const n of ['first', 'new', 'answer-0', 'answer-9']) t.true(names.includes(n), n);
  t.is(names.length, 13);
});

test('over the bound: the oldest answers go, down to 192', async (t) => {
  const { root, dir } = await memoWith(256);
  writeLocalMemo(root, 'new', entry);
  const names = readdirSync(dir);
  const answers = names.filter((n) => !n.startsWith('.tmp-'));
  t.is(answers.length, 192);
  // 258 answers ('first', 256 aged ones, 'new'): the 66 oldest aged ones went.
  t.false(names.includes('answer-0'));
  t.false(names.includes('answer-65'));
  for (const n of ['answer-66', 'answer-255', 'first', 'new']) t.true(names.includes(n), n);
  t.deepEqual(names.filter((n) => n.startsWith('.tmp-')), ['.tmp-2-live']);
});
