// Records written under a temporary name and renamed: the new text in
// place, no temporary file left, also when the directory is new; a write
// that fails leaves the old text and no temporary file.
import test from 'ava';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeTextAtomically, writeTextAtomicallySync } from '../cache/write-atomic.js';
import { tempDir } from './helpers/temp-dirs.js';

for (const [name, write] of [['async', writeTextAtomically], ['sync', writeTextAtomicallySync]] as const) {
  test(`${name}: replaces the file whole, in a directory it makes`, async (t) => {
    const file = path.join(await tempDir('write-atomic-'), 'a', 'b', 'record.json');
    await write(file, '{"v":1}');
    await write(file, '{"v":2}');
    t.is(readFileSync(file, 'utf8'), '{"v":2}');
    t.deepEqual(readdirSync(path.dirname(file)), ['record.json']);
  });

  test(`${name}: a failed write leaves the old text and no temporary file`, async (t) => {
    const dir = await tempDir('write-atomic-');
    const file = path.join(dir, 'record.json');
    await write(file, 'old');
    // A directory where the file is: the rename fails.
    const blocked = path.join(dir, 'blocked');
    mkdirSync(path.join(blocked, 'x'), { recursive: true });
    await t.throwsAsync(async () => write(blocked, 'new'));
    t.is(readFileSync(file, 'utf8'), 'old');
    t.deepEqual(readdirSync(dir).sort(), ['blocked', 'record.json']);
  });
}
