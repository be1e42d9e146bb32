import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import tarStream from 'tar-stream';
import { createLayerGzip } from '../cache/compress.js';
import { type Digest, digestOf } from '../cache/digest.js';
import { applyLayer } from '../cache/layer-unpack.js';
import { packTar, type TarEntry } from './helpers/pack-tar.js';
import { tarFromDir, tarFromOverlayUpper } from '../cache/layer-diff.js';
import { describeTree } from '../cache/tree-manifest.js';

// Every temp dir of this file lives under one root, removed at the end.
const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-cache-test-'));
test.after.always(() => {
  // Trees here hold read-only directories, which only root can empty as is.
  execFileSync('chmod', ['-R', 'u+rwX', testRoot]);
  rmSync(testRoot, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const rootOnly = isRoot ? test : test.skip;
if (!isRoot) console.log('cache-layer-roundtrip: root-only tests skipped (chown, mknod, security.* and trusted.* xattrs need root)');

async function tmp(label: string): Promise<string> {
  return fs.mkdtemp(path.join(testRoot, `tsbuild-${label}-`));
}

/** Collects what a layer writer produces. */
function collector(): { out: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (b: Buffer) => parts.push(b));
  return { out, bytes: () => Buffer.concat(parts) };
}

async function tarOf(dir: string, opts = {}): Promise<{ tar: Buffer; diffId: Digest; size: number }> {
  const c = collector();
  const r = await tarFromDir(dir, c.out, opts);
  return { tar: c.bytes(), diffId: r.diffId, size: r.size };
}

/** Headers as an independent implementation (tar-stream) reads them. */
async function headersOf(tar: Buffer): Promise<tarStream.Header[]> {
  const ex = tarStream.extract();
  const out: tarStream.Header[] = [];
  const done = (async () => {
    for await (const e of ex) {
      out.push(e.header);
      e.resume();
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

/** A tree with every kind of entry a layer must carry. */
async function richTree(root: string): Promise<void> {
  const w = (rel: string, data: string | Buffer, mode = 0o644) => fs.writeFile(path.join(root, rel), data, { mode });
  await fs.mkdir(path.join(root, 'etc/deep/er'), { recursive: true });
  await w('etc/hostname', 'box\n');
  await w('empty', '');
  await w('big.bin', randomBytes(10 * 1024 * 1024));
  await w('suid', '#!/bin/sh\n', 0o755);
  await fs.chmod(path.join(root, 'suid'), 0o4755);
  await w('sgid', 'x', 0o755);
  await fs.chmod(path.join(root, 'sgid'), 0o2711);
  await fs.mkdir(path.join(root, 'tmp'));
  await fs.chmod(path.join(root, 'tmp'), 0o1777);
  await fs.symlink('hostname', path.join(root, 'etc/rel-link'));
  await fs.symlink('/etc/passwd', path.join(root, 'abs-link'));
  await fs.symlink('does/not/exist', path.join(root, 'dangling'));
  await w('etc/deep/er/hard1', 'shared inode');
  await fs.link(path.join(root, 'etc/deep/er/hard1'), path.join(root, 'hard2'));
  await fs.link(path.join(root, 'etc/deep/er/hard1'), path.join(root, 'etc/hard3'));
  const longDir = 'd'.repeat(120) + '/' + 'e'.repeat(90);
  await fs.mkdir(path.join(root, longDir), { recursive: true });
  await w(longDir + '/' + 'f'.repeat(200), 'long name');
  await fs.symlink('t'.repeat(150), path.join(root, 'long-target-link'));
  await w('naïve-ünïcødé.txt', 'utf8 name');
  await fs.mkdir(path.join(root, 'readonly'));
  await w('readonly/inside', 'ro');
  await fs.chmod(path.join(root, 'readonly'), 0o555);
  await fs.mkdir(path.join(root, 'emptydir'), { mode: 0o700 });
  if (isRoot) {
    await fs.chown(path.join(root, 'etc/hostname'), 1000, 1001);
    await fs.lchown(path.join(root, 'abs-link'), 12, 34);
    await fs.chown(path.join(root, 'emptydir'), 65534, 65534);
    await fs.chown(path.join(root, 'sgid'), 3000000, 3000001); // too big for ustar octal: PAX
    await fs.chown(path.join(root, 'suid'), 0, 0);
    await fs.chmod(path.join(root, 'suid'), 0o4755);
    await fs.chown(path.join(root, 'sgid'), 3000000, 3000001);
    await fs.chmod(path.join(root, 'sgid'), 0o2711);
    sh('mknod', path.join(root, 'null'), 'c', '1', '3');
    sh('mknod', path.join(root, 'loop9'), 'b', '7', '9');
    sh('setfattr', '-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', path.join(root, 'suid'));
    sh('setfattr', '-n', 'trusted.note', '-v', '0x00ff10', path.join(root, 'etc/hostname'));
  }
  sh('mkfifo', path.join(root, 'fifo'));
  sh('setfattr', '-n', 'user.mime', '-v', 'text/plain', path.join(root, 'etc/hostname'));
  sh('setfattr', '-n', 'user.bin', '-v', '0x00010280ff', path.join(root, 'etc/deep'));
  // Old and fixed times, including on directories (set last: adding entries bumps them).
  await fs.utimes(path.join(root, 'etc/hostname'), 1_000_000_000, 1_000_000_000);
  await fs.utimes(path.join(root, 'etc/deep'), 1_100_000_000, 1_100_000_000);
  await fs.utimes(path.join(root, 'readonly'), 1_200_000_000, 1_200_000_000);
}

rootOnly('tarFromDir → applyLayer preserves contents, modes, owners, links, devices, xattrs, long names', async (t) => {
  const src = await tmp('src');
  await richTree(src);
  const { tar, diffId, size } = await tarOf(src);
  t.is(diffId, digestOf(tar));
  t.is(size, tar.length);

  const dst = await tmp('dst');
  const applied = await applyLayer(Readable.from([tar]), dst);
  t.is(applied.diffId, diffId);
  t.is(applied.compression, 'none');
  t.deepEqual(await describeTree(dst), await describeTree(src));
  const caps = (await describeTree(dst)).find((i) => i.path === 'suid')!;
  t.truthy(caps.xattrs?.['security.capability'], 'file capability survives (chown would clear it)');
  t.is(caps.mode, 0o4755, 'setuid survives chown');
});

test('gzip layers are reproducible, carry no name or time, and unpack to the same diffId', async (t) => {
  const src = await tmp('gz');
  await fs.writeFile(path.join(src, 'a'), randomBytes(200_000));
  await fs.mkdir(path.join(src, 'd'));
  await fs.writeFile(path.join(src, 'd/b'), 'b');
  const { tar, diffId } = await tarOf(src);
  const gzip = async () => {
    const parts: Buffer[] = [];
    const gz = createLayerGzip({ level: 9 });
    gz.end(tar);
    for await (const b of gz) parts.push(b as Buffer);
    return Buffer.concat(parts);
  };
  const [g1, g2] = await Promise.all([gzip(), gzip()]);
  t.true(g1.equals(g2));
  t.is(g1[3], 0, 'no FNAME/FCOMMENT/FEXTRA flags');
  t.is(g1.readUInt32LE(4), 0, 'zero mtime');
  const dst = await tmp('gz-dst');
  const r = await applyLayer(Readable.from([g1]), dst);
  t.is(r.compression, 'gzip');
  t.is(r.diffId, diffId);
  t.deepEqual(await describeTree(dst), await describeTree(src));
});

test('layer tars follow the conventions other readers expect', async (t) => {
  const src = await tmp('conv');
  await richTree(src);
  const { tar } = await tarOf(src);
  const headers = await headersOf(tar);
  const names = headers.map((h) => h.name);
  const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, ''))));
  t.deepEqual(names, sorted, 'entries in byte order of path');
  for (const h of headers) {
    t.falsy(h.uname, `${h.name}: no user name`);
    t.falsy(h.gname, `${h.name}: no group name`);
    if (h.type === 'directory') t.true(h.name.endsWith('/'), `${h.name} ends in /`);
  }
  const links = headers.filter((h) => h.type === 'link');
  t.deepEqual(links.map((h) => [h.name, h.linkname]), [['etc/hard3', 'etc/deep/er/hard1'], ['hard2', 'etc/deep/er/hard1']]);
  t.true(names.includes('d'.repeat(120) + '/' + 'e'.repeat(90) + '/' + 'f'.repeat(200)));
  t.is(headers.find((h) => h.name === 'long-target-link')?.linkname, 't'.repeat(150));
  // GNU tar reads it too, including the PAX xattrs.
  const file = path.join(await tmp('conv-file'), 'l.tar');
  await fs.writeFile(file, tar);
  const listing = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-tvvf', file]).toString();
  t.regex(listing, /naïve-ünïcødé\.txt/);
  t.regex(listing, /big\.bin/);
});

test('two tars of the same tree are byte-identical; SOURCE_DATE_EPOCH clamps times', async (t) => {
  const src = await tmp('repro');
  await richTree(src);
  const a = await tarOf(src);
  const b = await tarOf(src);
  t.true(a.tar.equals(b.tar));

  const epoch = 1_500_000_000;
  const copy = path.join(await tmp('repro-copy'), 'tree');
  execFileSync('cp', ['-a', src, copy]);
  // A later "rebuild": every mtime moves forward, except for ones before the epoch.
  const newer = new Date((epoch + 86400 * 400) * 1000);
  for (const item of await describeTree(copy)) {
    if (item.mtime >= epoch) await fs.lutimes(path.join(copy, item.path), newer, newer);
  }
  const withEpoch1 = await tarOf(src, { sourceDateEpoch: epoch });
  const withEpoch2 = await tarOf(copy, { sourceDateEpoch: epoch });
  t.is(withEpoch1.diffId, withEpoch2.diffId);
  t.not((await tarOf(src)).diffId, (await tarOf(copy)).diffId, 'without the epoch the times differ');
  const headers = await headersOf(withEpoch1.tar);
  for (const h of headers) t.true(h.mtime!.getTime() / 1000 <= epoch, `${h.name} clamped`);
  t.is(headers.find((h) => h.name === 'etc/hostname')!.mtime!.getTime() / 1000, 1_000_000_000, 'older times are kept');
});

const packTarAt = (entries: TarEntry[]) => packTar(entries, new Date(1_600_000_000_000));

async function baseTree(root: string): Promise<void> {
  for (const d of ['dir/sub', 'odir/inner']) await fs.mkdir(path.join(root, d), { recursive: true });
  for (const f of ['keep', 'gone', 'dir/a', 'dir/b', 'dir/sub/c', 'odir/x', 'odir/inner/y']) {
    await fs.writeFile(path.join(root, f), f);
  }
}

const whiteoutLayer = () => packTarAt([
  { name: '.wh.gone' },
  { name: 'dir/.wh.sub' },
  { name: 'odir/', type: 'directory' },
  { name: 'odir/.a-new', data: 'added before the marker' },
  { name: 'odir/.wh..wh..opq' },
  { name: 'odir/z', data: 'added after the marker' },
]);

test('whiteouts on a merged snapshot delete lower content; opaque keeps only this layer', async (t) => {
  const src = await tmp('wh-src');
  await baseTree(src);
  const base = await tarOf(src);
  const dst = await tmp('wh-dst');
  await applyLayer(Readable.from([base.tar]), dst);
  await applyLayer(Readable.from([await whiteoutLayer()]), dst);
  const paths = (await describeTree(dst)).map((i) => i.path);
  t.deepEqual(paths, ['dir', 'dir/a', 'dir/b', 'keep', 'odir', 'odir/.a-new', 'odir/z']);
});

rootOnly('overlay mode writes 0/0 char devices and the opaque xattr', async (t) => {
  const dst = await tmp('wh-ovl');
  await applyLayer(Readable.from([await whiteoutLayer()]), dst, { overlayWhiteouts: true });
  const items = await describeTree(dst);
  const byPath = new Map(items.map((i) => [i.path, i]));
  t.is(byPath.get('gone')?.type, 'char');
  t.is(byPath.get('gone')?.dev, '0,0');
  t.is(byPath.get('dir/sub')?.dev, '0,0');
  t.is(byPath.get('odir')?.xattrs?.['trusted.overlay.opaque'], Buffer.from('y').toString('hex'));
  t.true(byPath.has('odir/.a-new'));
  t.true(byPath.has('odir/z'));
  t.false([...byPath.keys()].some((p) => p.includes('.wh.')), 'no whiteout files are left as such');
});

rootOnly('tarFromOverlayUpper turns overlay whiteouts into OCI whiteouts', async (t) => {
  const upper = await tmp('upper');
  await fs.mkdir(path.join(upper, 'odir'));
  await fs.writeFile(path.join(upper, 'odir/new'), 'n');
  await fs.writeFile(path.join(upper, 'odir/-dash'), 'sorts before .wh');
  sh('setfattr', '-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, 'odir'));
  sh('setfattr', '-n', 'trusted.overlay.origin', '-v', '0x00fb', path.join(upper, 'odir/new'));
  sh('mknod', path.join(upper, 'gone'), 'c', '0', '0');
  await fs.writeFile(path.join(upper, 'changed'), 'c');
  const c = collector();
  await tarFromOverlayUpper(upper, c.out, {});
  const headers = await headersOf(c.bytes());
  t.deepEqual(headers.map((h) => [h.name, h.type]), [
    ['.wh.gone', 'file'],
    ['changed', 'file'],
    ['odir/', 'directory'],
    ['odir/.wh..wh..opq', 'file'],
    ['odir/-dash', 'file'],
    ['odir/new', 'file'],
  ]);
  t.false(c.bytes().includes(Buffer.from('trusted.overlay')), 'overlay bookkeeping xattrs stay out of the layer');
});

rootOnly('applyLayer reads what GNU tar writes (gnu long names, posix PAX with binary xattrs)', async (t) => {
  const src = await tmp('gnu-src');
  await richTree(src);
  const expected = await describeTree(src);
  for (const format of ['gnu', 'posix']) {
    const file = path.join(await tmp(`gnu-${format}`), 'layer.tar');
    execFileSync('tar', [`--format=${format}`, '--xattrs', '--xattrs-include=*', '--numeric-owner', '-cf', file, '-C', src, '.']);
    const dst = await tmp(`gnu-${format}-dst`);
    const r = await applyLayer(Readable.from([await fs.readFile(file)]), dst);
    t.is(r.diffId, digestOf(await fs.readFile(file)), format);
    const got = await describeTree(dst);
    if (format === 'gnu') {
      // The gnu format has no xattrs; compare the rest.
      const strip = (items: typeof got) => items.map(({ xattrs: _x, ...rest }) => rest);
      t.deepEqual(strip(got), strip(expected), format);
    } else {
      t.deepEqual(got, expected, format);
    }
  }
});

rootOnly('GNU tar extracts our layers to the same tree, xattrs included', async (t) => {
  const src = await tmp('ours-src');
  await richTree(src);
  const file = path.join(await tmp('ours'), 'layer.tar');
  await fs.writeFile(file, (await tarOf(src)).tar);
  const dst = await tmp('ours-dst');
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--same-owner', '-xpf', file, '-C', dst]);
  t.deepEqual(await describeTree(dst), await describeTree(src));
});
