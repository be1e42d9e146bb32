import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { isCacheError } from '../cache/errors.js';
import { applyLayer } from '../cache/layer-unpack.js';
import { packTar, type TarEntry } from './helpers/pack-tar.js';

// Every temp dir of this file lives under one root, removed at the end.
const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-cache-test-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));

type Entry = TarEntry;

interface Sandbox {
  /** Parent of dest: nothing may appear here besides dest and victim. */
  outer: string;
  dest: string;
  /** A host directory the archive tries to reach; holds `secret`. */
  victim: string;
}

async function sandbox(): Promise<Sandbox> {
  const outer = await fs.mkdtemp(path.join(testRoot, 'tsbuild-hostile-'));
  const dest = path.join(outer, 'dest');
  const victim = path.join(outer, 'victim');
  await fs.mkdir(dest);
  await fs.mkdir(victim, { mode: 0o750 });
  await fs.writeFile(path.join(victim, 'secret'), 'secret');
  return { outer, dest, victim };
}

async function untouched(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; is: (a: unknown, b: unknown, m?: string) => void }, s: Sandbox): Promise<void> {
  t.deepEqual((await fs.readdir(s.outer)).sort(), ['dest', 'victim'], 'nothing written next to dest');
  t.deepEqual(await fs.readdir(s.victim), ['secret'], 'victim dir unchanged');
  t.is(await fs.readFile(path.join(s.victim, 'secret'), 'utf8'), 'secret');
  t.is((await fs.stat(s.victim)).mode & 0o777, 0o750);
}

function refuses(title: string, entries: (s: Sandbox) => Entry[], opts: { overlayWhiteouts?: boolean } = {}) {
  test(title, async (t) => {
    const s = await sandbox();
    const tar = await packTar(entries(s));
    const err = await t.throwsAsync(applyLayer(Readable.from([tar]), s.dest, opts));
    t.true(isCacheError(err, 'UNSAFE_TAR_ENTRY'), String(err));
    t.false(err!.message.includes('\n'));
    const named = entries(s).at(-1)!.name;
    t.true(err!.message.includes(JSON.stringify(named)), `message names the entry: ${err!.message}`);
    await untouched(t, s);
  });
}

refuses('"../x" is refused', () => [{ name: '../x', data: 'x' }]);
refuses('"a/../../x" is refused', () => [{ name: 'a/', type: 'directory' }, { name: 'a/../../x', data: 'x' }]);
refuses('a file under a symlink to an absolute host dir is refused', (s) => [
  { name: 'a', type: 'symlink', linkname: s.victim },
  { name: 'a/evil', data: 'evil' },
]);
refuses('a file under a relative symlink that climbs out is refused', () => [
  { name: 'b', type: 'symlink', linkname: '../victim' },
  { name: 'b/evil', data: 'evil' },
]);
refuses('a hard link to ../../etc/passwd is refused', () => [{ name: 'pw', type: 'link', linkname: '../../etc/passwd' }]);
refuses('a hard link through a symlinked parent is refused', (s) => [
  { name: 'a', type: 'symlink', linkname: s.victim },
  { name: 'stolen', type: 'link', linkname: 'a/secret' },
]);
refuses('a whiteout through a symlinked parent is refused', (s) => [
  { name: 'a', type: 'symlink', linkname: s.victim },
  { name: 'a/.wh.secret' },
]);
refuses('an opaque marker through a symlinked parent is refused', (s) => [
  { name: 'a', type: 'symlink', linkname: s.victim },
  { name: 'a/.wh..wh..opq' },
]);
refuses('a whiteout of ".." is refused', () => [{ name: 'd/', type: 'directory' }, { name: 'd/.wh...' }]);
refuses('overlay mode: a whiteout under a symlink is refused', (s) => [
  { name: 'a', type: 'symlink', linkname: s.victim },
  { name: 'a/.wh.secret' },
], { overlayWhiteouts: true });

test('absolute names are unpacked inside dest, like Docker does', async (t) => {
  const s = await sandbox();
  const name = `/etc/tsbuild-hostile-${randomBytes(6).toString('hex')}`;
  await applyLayer(Readable.from([await packTar([{ name, data: 'x' }])]), s.dest);
  await t.throwsAsync(fs.access(name), undefined, 'nothing written to the real /etc');
  t.is(await fs.readFile(path.join(s.dest, name), 'utf8'), 'x');
  await untouched(t, s);
});

test('entries replace a symlink instead of writing through it', async (t) => {
  const s = await sandbox();
  const tar = await packTar([
    { name: 'l', type: 'symlink', linkname: path.join(s.victim, 'secret') },
    { name: 'l', data: 'replaced' },
    { name: 'dl', type: 'symlink', linkname: s.victim },
    { name: 'dl/', type: 'directory', mode: 0o700 },
  ]);
  await applyLayer(Readable.from([tar]), s.dest);
  t.is(await fs.readFile(path.join(s.dest, 'l'), 'utf8'), 'replaced');
  t.true((await fs.lstat(path.join(s.dest, 'dl'))).isDirectory());
  t.is((await fs.lstat(path.join(s.dest, 'dl'))).mode & 0o777, 0o700);
  await untouched(t, s);
});

test('a hard link to a symlink links the symlink itself', async (t) => {
  const s = await sandbox();
  const tar = await packTar([
    { name: 'l', type: 'symlink', linkname: path.join(s.victim, 'secret') },
    { name: 'h', type: 'link', linkname: 'l' },
  ]);
  await applyLayer(Readable.from([tar]), s.dest);
  t.true((await fs.lstat(path.join(s.dest, 'h'))).isSymbolicLink());
  await untouched(t, s);
});

async function corrupt(t: import('ava').ExecutionContext, data: Buffer, code = 'CORRUPT_TAR') {
  const s = await sandbox();
  const err = await t.throwsAsync(applyLayer(Readable.from([data]), s.dest));
  t.true(isCacheError(err), String(err));
  t.is((err as { code?: string }).code, code);
  t.false(err!.message.includes('\n'), 'one line');
  await untouched(t, s);
}

test('garbage is a corrupt tar', async (t) => {
  await corrupt(t, randomBytes(4096));
});

test('a truncated tar is a corrupt tar', async (t) => {
  const tar = await packTar([{ name: 'f', data: 'x'.repeat(5000) }]);
  await corrupt(t, tar.subarray(0, 2048));
});

test('a truncated gzip is a corrupt tar', async (t) => {
  const tar = await packTar([{ name: 'f', data: randomBytes(20000).toString('hex') }]);
  const gz = gzipSync(tar);
  await corrupt(t, gz.subarray(0, gz.length / 2));
});

test('zstd layers are refused with a clear error', async (t) => {
  await corrupt(t, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), 'UNSUPPORTED_COMPRESSION');
});

test('an empty stream is an empty layer', async (t) => {
  const s = await sandbox();
  const r = await applyLayer(Readable.from([]), s.dest);
  t.is(r.entries, 0);
  t.is(r.size, 0);
});
