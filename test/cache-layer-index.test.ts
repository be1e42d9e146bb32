// A layer's index (cache/layer-index.ts) and a re-run's tar made with the
// previous layer's blob (cache/layer-diff.ts): the index says where each
// file's bytes are and what they hash to; a layer made with the previous
// blob's help is byte for byte the one made from the files alone; a damaged
// index is refused.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { digestOf } from '../cache/digest.js';
import { tarFromOverlayUpper } from '../cache/layer-diff.js';
import { decodeLayerIndex, encodeLayerIndex, type LayerIndex, readLayerIndex, snapshotIdentity, writeLayerIndex } from '../cache/layer-index.js';
import { readTar } from './e2e-image-helpers.js';

const testRoot = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-layer-index-'));
test.after.always(() => rmSync(testRoot, { recursive: true, force: true }));

function collector(): { out: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (b: Buffer) => parts.push(b));
  return { out, bytes: () => Buffer.concat(parts) };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Files of every size class the writer treats apart: empty, small, one
// past a 512-byte block, and bigger than the writer's 1 MiB staging buffer;
// and a name too long for a ustar header (a PAX record carries it).
const LONG_NAME = `app/${'long-'.repeat(25)}name.txt`;
const FILES: Record<string, Buffer> = {
  'app/empty': Buffer.alloc(0),
  [LONG_NAME]: Buffer.from('long\n'),
  'app/a.txt': Buffer.from('a\n'),
  'app/sub/b.bin': randomBytes(513),
  'app/sub/with space.txt': Buffer.from('spaced\n'),
  'app/big.bin': randomBytes(1536 * 1024 + 7),
  // Past the 4 MiB a re-run copies from the previous blob in one go: the next entry starts another run.
  'app/huge.bin': randomBytes(4608 * 1024 + 1),
  'app/hugf.txt': Buffer.from('after the huge one\n'),
  'app/zz.txt': Buffer.from('last\n'),
};

async function tree(dir: string, files: Record<string, Buffer>): Promise<void> {
  for (const [rel, data] of Object.entries(files)) {
    await fs.mkdir(path.join(dir, path.dirname(rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), data);
    await fs.utimes(path.join(dir, rel), 1_700_000_000, 1_700_000_000);
  }
}

/** A layer of `upper` with its index; with `previous`, linked files read from that blob. */
async function layerOf(upper: string, previous?: { index: LayerIndex; blob: string; linked: Map<string, string> }, sourceDateEpoch?: number) {
  const c = collector();
  const fh = previous && await fs.open(previous.blob, 'r');
  try {
    const r = await tarFromOverlayUpper(upper, c.out, { sourceDateEpoch, index: { previous: previous && fh && { index: previous.index, blobFd: fh.fd, linked: previous.linked } } });
    return { ...r, bytes: c.bytes() };
  } finally {
    await fh?.close();
  }
}

async function inodeOf(file: string): Promise<string> {
  const st = await fs.lstat(file);
  return `${st.dev}:${st.ino}`;
}

test('the index gives each file\'s offset, size and sha256 in the layer tar', async (t) => {
  const upper = await fs.mkdtemp(path.join(testRoot, 'upper-'));
  await tree(upper, FILES);
  const layer = await layerOf(upper);
  t.is(layer.diffId, digestOf(layer.bytes));
  t.deepEqual([...layer.index!.keys()].sort(), Object.keys(FILES).sort());
  for (const [rel, data] of Object.entries(FILES)) {
    const f = layer.index!.get(rel)!;
    t.is(f.size, data.length, rel);
    t.true(layer.bytes.subarray(f.offset, f.offset + f.size).equals(data), `${rel}: bytes at the offset`);
    t.is(f.sha256, sha(data), rel);
  }
  // Without asking, no index.
  const plain = collector();
  t.is((await tarFromOverlayUpper(upper, plain.out)).index, undefined);
  t.true(plain.bytes().equals(layer.bytes));
});

test('a re-run\'s layer made with the previous blob is the layer made from the files, and reads linked files from the blob', async (t) => {
  const prevDir = await fs.mkdtemp(path.join(testRoot, 'prev-'));
  await tree(prevDir, FILES);
  const prev = await layerOf(prevDir);
  const blob = path.join(testRoot, `blob-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(blob, prev.bytes);

  // The re-run: every file linked from the previous snapshot but one,
  // which changed, plus a new one.
  const upper = await fs.mkdtemp(path.join(testRoot, 'upper-'));
  const linked = new Map<string, string>();
  for (const rel of Object.keys(FILES)) {
    await fs.mkdir(path.join(upper, path.dirname(rel)), { recursive: true });
    if (rel === 'app/a.txt') continue;
    await fs.link(path.join(prevDir, rel), path.join(upper, rel));
    linked.set(rel, await inodeOf(path.join(prevDir, rel)));
  }
  await tree(upper, { 'app/a.txt': Buffer.from('a changed\n'), 'app/new.txt': Buffer.from('new\n') });
  // A stale claim: the copier linked this path, but something replaced it since.
  linked.set('app/a.txt', await inodeOf(path.join(prevDir, 'app/a.txt')));

  const fromFiles = await layerOf(upper);
  const helped = await layerOf(upper, { index: prev.index!, blob, linked });
  t.is(helped.diffId, fromFiles.diffId);
  t.true(helped.bytes.equals(fromFiles.bytes));
  t.deepEqual(helped.index, fromFiles.index);
  t.is(helped.index!.get('app/a.txt')!.sha256, sha(Buffer.from('a changed\n')));

  // The linked files' bytes did come from the blob: a blob that lies about
  // one of them shows in the result (and only the linked ones are read from it).
  const lying = Buffer.from(prev.bytes);
  const big = prev.index!.get('app/big.bin')!;
  const small = prev.index!.get('app/sub/b.bin')!;
  const long = prev.index!.get(LONG_NAME)!;
  lying[big.offset + 100] ^= 0xff;
  lying[small.offset] ^= 0xff;
  lying[long.offset] ^= 0xff;
  // Whole entries, headers too: a blob that lies in a header's mtime
  // field shows in the result as well.
  const zz = prev.index!.get('app/zz.txt')!;
  const mtimeDigit = zz.offset - 512 + 140;
  lying[mtimeDigit] ^= 0x01;
  await fs.writeFile(blob, lying);
  const lied = await layerOf(upper, { index: prev.index!, blob, linked });
  t.is(lied.bytes[lied.index!.get('app/zz.txt')!.offset - 512 + 140], lying[mtimeDigit]);
  t.not(lying[mtimeDigit], prev.bytes[mtimeDigit]);
  lied.bytes[lied.index!.get('app/zz.txt')!.offset - 512 + 140] = prev.bytes[mtimeDigit]!;
  const fromLie = await readTar(lied.bytes);
  const data = (name: string) => fromLie.find((e) => e.name === name)!.data;
  t.false(data('app/big.bin').equals(FILES['app/big.bin']!));
  t.false(data('app/sub/b.bin').equals(FILES['app/sub/b.bin']!));
  // The long name's header (PAX) is made again, its data still read from the blob.
  t.false(data(LONG_NAME).equals(FILES[LONG_NAME]!));
  t.true(data('app/a.txt').equals(Buffer.from('a changed\n')));
  t.true(data('app/zz.txt').equals(FILES['app/zz.txt']!));

  // A layer whose mtimes are clamped otherwise than the previous one's
  // makes every header again (and still takes the linked data from the blob).
  await fs.writeFile(blob, prev.bytes);
  const clamped = await layerOf(upper, { index: prev.index!, blob, linked }, 1_600_000_000);
  t.true(clamped.bytes.equals((await layerOf(upper, undefined, 1_600_000_000)).bytes));
  t.is(clamped.index!.sourceDateEpoch, 1_600_000_000);
  t.is(helped.index!.sourceDateEpoch, null);
});

test('an index is refused when damaged, truncated or about another blob', async (t) => {
  const index: LayerIndex = new Map([
    ['app/a.txt', { offset: 1536, size: 2, sha256: sha(Buffer.from('a\n')) }],
    ['app/line\nbreak "quoted"', { offset: 4096, size: 0, sha256: sha(Buffer.alloc(0)) }],
  ]);
  const blob = digestOf(Buffer.from('blob'));
  const encoded = encodeLayerIndex(blob, index);
  t.deepEqual(decodeLayerIndex(blob, encoded), index);
  t.is(decodeLayerIndex(digestOf(Buffer.from('other')), encoded), undefined);
  t.is(decodeLayerIndex(blob, encoded.subarray(0, encoded.length - 3)), undefined);
  const flipped = Buffer.from(encoded);
  flipped[flipped.length - 10] ^= 1;
  t.is(decodeLayerIndex(blob, flipped), undefined);
  t.is(decodeLayerIndex(blob, Buffer.alloc(encoded.length)), undefined);

  // Written by rename under the content root; a missing one reads as none.
  const content = await fs.mkdtemp(path.join(testRoot, 'content-'));
  await fs.mkdir(path.join(content, 'tmp'));
  t.is(await readLayerIndex(content, blob), undefined);
  await writeLayerIndex(content, path.join(content, 'tmp'), blob, index);
  t.deepEqual(await readLayerIndex(content, blob), index);
  t.deepEqual(await fs.readdir(path.join(content, 'tmp')), []);
});

test('an index keeps every name and snapshot part through encoding, each line as the format has always written it', (t) => {
  const names = ['app/é.txt', 'app/\u{1F600}', 'app/tab\there', 'app/lone\ud800', 'app/back\\slash', 'app/"q"', 'app/plain name'];
  const index: LayerIndex = new Map(names.map((name, i) => [name, {
    offset: 512 * (i + 1), size: i, sha256: sha(Buffer.from(name)),
    ...(i % 2 ? {} : { snapshot: { perm: 0o4755, uid: 1000 + i, gid: 7, mtimeMs: 1733360000123.4567 + i, inode: `65024:${2 ** 40 + i}` } }),
  }]));
  index.snapshot = '65024:99:1733360000123456789';
  const blob = digestOf(Buffer.from('blob'));
  const encoded = encodeLayerIndex(blob, index);
  const decoded = decodeLayerIndex(blob, encoded);
  t.deepEqual(decoded, index);
  t.deepEqual([...decoded!.keys()], names);
  // Names are quoted by JSON's rules: what earlier versions wrote and read.
  const lines = encoded.toString().split('\n').slice(1, -1);
  lines.forEach((line, i) => t.true(line.endsWith(` ${JSON.stringify(names[i])}`), line));

  // An index written by a version without snapshot parts is still read.
  const v1Body = Buffer.from(`1024 3 ${sha(Buffer.from('abc'))} "app/a"\n`);
  const v1 = Buffer.concat([Buffer.from(`tsbuild-layer-index-v1 ${blob} ${createHash('sha256').update(v1Body).digest('hex')} -\n`), v1Body]);
  t.deepEqual(decodeLayerIndex(blob, v1), new Map([['app/a', { offset: 1024, size: 3, sha256: sha(Buffer.from('abc')) }]]));

  // Lines that pass the checksum but not the format are refused too.
  const withBody = (body: string) => Buffer.concat([Buffer.from(`tsbuild-layer-index-v2 ${blob} ${createHash('sha256').update(body).digest('hex')} -\n`), Buffer.from(body)]);
  const hex = sha(Buffer.from('x'));
  t.truthy(decodeLayerIndex(blob, withBody(`0 1 ${hex} - "a"\n`)));
  for (const bad of [`0 1 ${hex} - "a"`, `x 1 ${hex} - "a"\n`, `0 1 ${hex.toUpperCase()} - "a"\n`, `0 1 ${hex} - a\n`, `0 1 ${hex} 99999:0:0:1:2:3 "a"\n`,
    `0 1 ${hex} 1:2:3::4:5 "a"\n`, `0 1 ${hex} - "a\\"\n`, `99999999999999999 1 ${hex} - "a"\n`]) {
    t.is(decodeLayerIndex(blob, withBody(bad)), undefined, bad);
  }
});

test('layer entries are in the byte order of their UTF-8 paths, also with characters above U+FFFF', async (t) => {
  const names = ['B', 'a', 'a\uFFFD', 'a\u{1F600}', 'a-', 'a.b', 'é'];
  const bytesOrder = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  for (const withAstral of [true, false]) {
    const upper = await fs.mkdtemp(path.join(testRoot, 'order-'));
    const chosen = withAstral ? names : names.filter((n) => !/[\uD800-\uDFFF]/.test(n));
    for (const n of chosen) await fs.writeFile(path.join(upper, n), n);
    const c = collector();
    await tarFromOverlayUpper(upper, c.out);
    const got = (await readTar(c.bytes())).map((e) => e.name);
    t.deepEqual(got, bytesOrder.filter((n) => chosen.includes(n)));
  }
});

test('an index says what the snapshot\'s files were and which snapshot dir; a v1 index still reads, without that', async (t) => {
  const upper = await fs.mkdtemp(path.join(testRoot, 'upper-'));
  await tree(upper, FILES);
  await fs.chmod(path.join(upper, 'app/a.txt'), 0o640);
  const layer = await layerOf(upper);
  for (const rel of Object.keys(FILES)) {
    const st = await fs.lstat(path.join(upper, rel));
    t.deepEqual(layer.index!.get(rel)!.snapshot, { perm: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, inode: `${st.dev}:${st.ino}` }, rel);
  }
  const blob = digestOf(layer.bytes);
  layer.index!.snapshot = snapshotIdentity(upper);
  t.regex(layer.index!.snapshot!, /^\d+:\d+:\d+$/);
  const decoded = decodeLayerIndex(blob, encodeLayerIndex(blob, layer.index!))!;
  t.deepEqual(decoded, layer.index);
  t.is(decoded.snapshot, layer.index!.snapshot);
  // Sub-millisecond mtimes survive the text form exactly.
  const odd: LayerIndex = new Map([['f', { offset: 512, size: 0, sha256: sha(Buffer.alloc(0)), snapshot: { perm: 0o755, uid: 1, gid: 2, mtimeMs: 1700000000123.4567, inode: '2049:12' } }]]);
  t.deepEqual(decodeLayerIndex(blob, encodeLayerIndex(blob, odd)), odd);
  t.is(decodeLayerIndex(blob, encodeLayerIndex(blob, odd))!.snapshot, undefined);
  // A malformed snapshot part (with a valid checksum) refuses the whole index.
  const bad = encodeLayerIndex(blob, odd).toString().replace(':2049:12 ', ':2049 ');
  const body = bad.slice(bad.indexOf('\n') + 1);
  const [magic, forBlob] = bad.split(' ');
  t.is(decodeLayerIndex(blob, Buffer.from(`${magic} ${forBlob} ${sha(Buffer.from(body))} -\n${body}`)), undefined);

  // Written by an earlier version: offsets and digests, no snapshot part.
  const lines = [...layer.index!].map(([rel, f]) => `${f.offset} ${f.size} ${f.sha256} ${JSON.stringify(rel)}\n`).join('');
  const v1 = decodeLayerIndex(blob, Buffer.from(`tsbuild-layer-index-v1 ${blob} ${sha(Buffer.from(lines))}\n${lines}`))!;
  t.truthy(v1);
  t.is(v1.snapshot, undefined);
  for (const [rel, f] of layer.index!) t.deepEqual(v1.get(rel), { offset: f.offset, size: f.size, sha256: f.sha256 }, rel);
  t.is(decodeLayerIndex(blob, Buffer.from(`tsbuild-layer-index-v0 ${blob} ${sha(Buffer.from(lines))}\n${lines}`)), undefined);
});
