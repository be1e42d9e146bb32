// The unpacker creates the files of a fresh directory several at once and
// skips the chown/chmod calls whose outcome the kernel already gives; these
// tests pin down what must still hold: modes the umask would mask, owners,
// setgid directories, entries that depend on a file still being written
// (hard links, replacements, entries below a file).
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { packTar, type TarEntry } from './helpers/pack-tar.js';
import { isCacheError } from '../cache/errors.js';
import { applyLayer } from '../cache/layer-unpack.js';

const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-unpack-test-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

type Entry = TarEntry;
const T0 = new Date(1_000_000_000_000);

async function unpack(entries: Entry[]): Promise<string> {
  const dest = await fs.mkdtemp(path.join(testRoot, 'dest-'));
  await applyLayer(Readable.from([await packTar(entries, T0)]), dest);
  return dest;
}

test('modes the umask would mask, setuid/setgid and times survive', async (t) => {
  const dest = await unpack([
    { name: 'd/', type: 'directory', mode: 0o777 },
    { name: 'd/open', mode: 0o666, data: 'a' },
    { name: 'd/exec', mode: 0o777, data: 'b' },
    { name: 'd/ro', mode: 0o400, data: 'c' },
    { name: 'd/suid', mode: 0o4755, data: 'd' },
    { name: 'd/sticky', mode: 0o1644, data: '' },
  ]);
  const mode = async (p: string) => (await fs.lstat(path.join(dest, p))).mode & 0o7777;
  t.is(await mode('d'), 0o777);
  t.is(await mode('d/open'), 0o666);
  t.is(await mode('d/exec'), 0o777);
  t.is(await mode('d/ro'), 0o400);
  t.is(await mode('d/suid'), 0o4755);
  t.is(await mode('d/sticky'), 0o1644);
  t.is(await fs.readFile(path.join(dest, 'd/ro'), 'utf8'), 'c');
  t.is((await fs.lstat(path.join(dest, 'd/exec'))).mtimeMs, 1_000_000_000_000);
});

(isRoot ? test : test.skip)(`owners: files get the tar owner, also under a setgid directory of another group${isRoot ? '' : ' (skipped: chown needs root)'}`, async (t) => {
  const dest = await unpack([
    { name: 'shared/', type: 'directory', mode: 0o2775, uid: 0, gid: 50 },
    { name: 'shared/root-file', uid: 0, gid: 0, data: 'r' },
    { name: 'shared/user-file', uid: 1000, gid: 1000, data: 'u' },
    { name: 'shared/suid', uid: 1000, gid: 0, mode: 0o4755, data: 's' },
  ]);
  const st = async (p: string) => fs.lstat(path.join(dest, p));
  t.like(await st('shared'), { uid: 0, gid: 50 });
  t.is((await st('shared')).mode & 0o7777, 0o2775);
  t.like(await st('shared/root-file'), { uid: 0, gid: 0 });
  t.like(await st('shared/user-file'), { uid: 1000, gid: 1000 });
  t.like(await st('shared/suid'), { uid: 1000, gid: 0 });
  t.is((await st('shared/suid')).mode & 0o7777, 0o4755, 'setuid set again after chown');
});

test('entries that depend on a file still being written see it complete', async (t) => {
  const many: Entry[] = [];
  for (let i = 0; i < 64; i++) many.push({ name: `spread/d${i % 8}/f${i}`, data: Buffer.alloc(4096, i) });
  const dest = await unpack([
    ...many,
    { name: 'first', data: 'one' },
    { name: 'first', data: 'two' }, // a later entry replaces an earlier one
    { name: 'target', data: 'linked' },
    { name: 'hard', type: 'link', linkname: 'target' },
    { name: 'was-file', data: 'x' },
    { name: 'was-file/', type: 'directory' }, // a directory replaces the file
    { name: 'was-file/inner', data: 'y' },
  ]);
  t.is(await fs.readFile(path.join(dest, 'first'), 'utf8'), 'two');
  t.is(await fs.readFile(path.join(dest, 'hard'), 'utf8'), 'linked');
  t.is((await fs.stat(path.join(dest, 'hard'))).ino, (await fs.stat(path.join(dest, 'target'))).ino);
  t.is(await fs.readFile(path.join(dest, 'was-file/inner'), 'utf8'), 'y');
  for (let i = 0; i < 64; i++) t.deepEqual(await fs.readFile(path.join(dest, `spread/d${i % 8}/f${i}`)), Buffer.alloc(4096, i));
});

test('an entry below a file is a corrupt tar, even while the file is being written', async (t) => {
  const dest = await fs.mkdtemp(path.join(testRoot, 'dest-'));
  const tar = await packTar([{ name: 'plain', data: 'x' }, { name: 'plain/below', data: 'y' }], T0);
  const err = await t.throwsAsync(applyLayer(Readable.from([tar]), dest));
  t.true(isCacheError(err), String(err));
});
