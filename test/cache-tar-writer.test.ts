// The tar writer stages headers, padding and small files in one buffer and
// writes it a megabyte at a time; its output must stay exactly the archive
// the format functions describe, whatever the entry sizes and batch edges.
import test from 'ava';
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { END_OF_ARCHIVE, type TarHeaderInput, encodeHeader, encodeHeaderInto, fileHeaderFitsOneBlock, padding } from '../cache/tar-format.js';
import { SMALL_FILE_LIMIT, TarWriter } from '../cache/tar-writer.js';

function bytes(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

interface Item { h: TarHeaderInput; data?: Buffer; how: 'small' | 'now' | 'stream' | 'plain' }

function reference(items: Item[]): Buffer {
  const parts: Buffer[] = [];
  for (const { h, data } of items) {
    parts.push(encodeHeader(h));
    if (data) parts.push(data, padding(data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

async function* chunks(b: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function writeAll(items: Item[]): Promise<{ out: Buffer; diffId: string; size: number }> {
  const sink = new PassThrough();
  const got: Buffer[] = [];
  sink.on('data', (b: Buffer) => got.push(Buffer.from(b)));
  const writer = new TarWriter(sink);
  for (const { h, data, how } of items) {
    if (how === 'small') await writer.addSmallFile(h, (buf, off, len) => data!.copy(buf, off, 0, len));
    // Without a promise when it fits the staging buffer; else as addSmallFile.
    else if (how === 'now') {
      if (!writer.addSmallFileNow(h, (buf, off, len) => data!.copy(buf, off, 0, len))) await writer.addSmallFile(h, (buf, off, len) => data!.copy(buf, off, 0, len));
    }
    else if (how === 'stream') await writer.add(h, chunks(data!, 700 * 1024));
    else await writer.add(h, data);
  }
  const { diffId, size } = await writer.finish();
  return { out: Buffer.concat(got), diffId, size };
}

test('staged output is exactly the reference archive across batch edges, PAX headers and streamed files', async (t) => {
  const items: Item[] = [{ h: { name: 'dir', type: 'dir', mode: 0o755, mtime: 1 }, how: 'plain' }];
  // Enough small files of awkward sizes to cross the 1 MiB staging buffer several times.
  const sizes = [0, 1, 511, 512, 513, 1000, 4096, 8191, 65537, 300_001];
  for (let i = 0; i < 40; i++) {
    const data = bytes(sizes[i % sizes.length]!, i);
    items.push({ h: { name: `dir/f${i}`, type: 'file', mode: 0o644, uid: i, gid: 2 * i, size: data.length, mtime: 1000 + i }, data, how: i % 3 === 0 ? 'now' : 'small' });
  }
  const exact = bytes(SMALL_FILE_LIMIT, 99);
  items.push({ h: { name: 'dir/exactly-limit', type: 'file', mode: 0o600, size: exact.length, mtime: 5 }, data: exact, how: 'small' });
  const longName = `dir/${'n'.repeat(150)}-é`;
  const paxData = bytes(777, 3);
  items.push({ h: { name: longName, type: 'file', mode: 0o644, size: paxData.length, mtime: 6, xattrs: new Map([['user.k', Buffer.from([0, 1, 255])]]) }, data: paxData, how: 'small' });
  items.push({ h: { name: `${longName}-now`, type: 'file', mode: 0o644, size: paxData.length, mtime: 6 }, data: paxData, how: 'now' });
  const big = bytes(3 * 1024 * 1024 + 17, 5);
  items.push({ h: { name: 'dir/big', type: 'file', mode: 0o644, size: big.length, mtime: 7 }, data: big, how: 'stream' });
  items.push({ h: { name: 'dir/link', type: 'symlink', mode: 0o777, linkname: 'big', mtime: 8 }, how: 'plain' });
  const inline = bytes(10, 9);
  items.push({ h: { name: 'dir/inline', type: 'file', mode: 0o644, size: inline.length, mtime: 9 }, data: inline, how: 'plain' });

  const want = reference(items);
  const { out, diffId, size } = await writeAll(items);
  t.is(out.length, want.length);
  t.true(out.equals(want));
  t.is(size, want.length);
  t.is(diffId, `sha256:${createHash('sha256').update(want).digest('hex')}`);
});

test('a small file that reads short, or a body that ends early, is an error naming the entry', async (t) => {
  const short = new TarWriter(new PassThrough().resume());
  await t.throwsAsync(short.addSmallFile({ name: 'shrunk', type: 'file', mode: 0o644, size: 100, mtime: 0 }, () => 60),
    { message: /shrunk: expected 100 bytes of data, got 60/ });
  const early = new TarWriter(new PassThrough().resume());
  await t.throwsAsync(early.add({ name: 'cut', type: 'file', mode: 0o644, size: 100, mtime: 0 }, Buffer.alloc(40)),
    { message: /cut: expected 100 bytes of data, got 40/ });
  const tooBig = new TarWriter(new PassThrough().resume());
  await t.throwsAsync(tooBig.addSmallFile({ name: 'huge', type: 'file', mode: 0o644, size: SMALL_FILE_LIMIT + 1, mtime: 0 }, () => 0));
});

test('encodeHeaderInto writes encodeHeader\'s block in place, and declines entries that need PAX', (t) => {
  const target = Buffer.alloc(2048, 0xaa);
  const plain: TarHeaderInput = { name: 'a/b', type: 'file', mode: 0o4755, uid: 1000, gid: 100, size: 12345, mtime: 1700000000 };
  t.is(encodeHeaderInto(plain, target, 700), 512);
  t.true(target.subarray(700, 1212).equals(encodeHeader(plain)));
  t.is(target[699], 0xaa);
  t.is(target[1212], 0xaa);
  const before = Buffer.from(target);
  for (const h of [
    { name: 'x'.repeat(101), type: 'file', mode: 0o644, mtime: 0 },
    { name: 'é', type: 'file', mode: 0o644, mtime: 0 },
    { name: 'big-uid', type: 'file', mode: 0o644, uid: 2 ** 22, mtime: 0 },
    { name: 'xattr', type: 'file', mode: 0o644, mtime: 0, xattrs: new Map([['user.a', Buffer.from('b')]]) },
  ] as TarHeaderInput[]) {
    t.is(encodeHeaderInto(h, target, 0), 0, h.name);
  }
  t.true(target.equals(before));
});

test('a regular file\'s header is one block exactly when fileHeaderFitsOneBlock says so', (t) => {
  const target = Buffer.alloc(512);
  const cases: TarHeaderInput[] = [];
  for (const name of ['a', 'x'.repeat(100), 'x'.repeat(101), 'é', 'tab\there', 'nul\0in', `dir/${'y'.repeat(96)}`]) {
    for (const [uid, gid] of [[0, 0], [2 ** 21 - 1, 7], [2 ** 21, 7], [7, 2 ** 21]]) {
      for (const size of [0, 8192, 8 ** 11 - 1, 8 ** 11]) {
        for (const mtime of [0, 1700000000.9, 8 ** 11 - 1, 8 ** 11, -1]) cases.push({ name, type: 'file', mode: 0o644, uid, gid, size, mtime });
      }
    }
  }
  for (const h of cases) {
    const oneBlock = encodeHeaderInto(h, target, 0) === 512;
    t.is(fileHeaderFitsOneBlock(h.name, h.uid!, h.gid!, h.size!, h.mtime), oneBlock, JSON.stringify(h));
  }
});

test('entries added already encoded land as they are, across batch edges and read in pieces', async (t) => {
  const items: Item[] = [];
  for (let i = 0; i < 300; i++) {
    const data = bytes([0, 1, 511, 512, 8192, 20_000][i % 6]!, i);
    items.push({ h: { name: `e/f${i}`, type: 'file', mode: 0o644, uid: i, size: data.length, mtime: 100 + i }, data, how: 'small' });
  }
  const encoded = (part: Item[]) => reference(part).subarray(0, -END_OF_ARCHIVE.length);
  const sink = new PassThrough();
  const got: Buffer[] = [];
  sink.on('data', (b: Buffer) => got.push(Buffer.from(b)));
  const writer = new TarWriter(sink);
  // Runs of encoded entries between entries written as usual; each run
  // handed over by a source that gives at most 100,000 bytes per call.
  for (let i = 0; i < items.length; i += 60) {
    const { h, data } = items[i]!;
    await writer.addSmallFile(h, (buf, off, len) => data!.copy(buf, off, 0, len));
    const run = encoded(items.slice(i + 1, i + 60));
    let at = 0;
    await writer.addEncoded(run.length, (buf, off, len) => {
      const n = run.copy(buf, off, at, at + Math.min(len, 100_000));
      at += n;
      return n;
    });
  }
  const { diffId, size } = await writer.finish();
  const want = reference(items);
  t.true(Buffer.concat(got).equals(want));
  t.is(size, want.length);
  t.is(diffId as string, `sha256:${createHash('sha256').update(want).digest('hex')}`);

  const short = new TarWriter(new PassThrough().resume());
  await t.throwsAsync(short.addEncoded(1024, (buf, off) => (off === 0 ? 512 : 0)), { message: /ended 512 bytes early/ });
  await t.throwsAsync(new TarWriter(new PassThrough().resume()).addEncoded(100, () => 100), { message: /not whole layer entries/ });
});

test('staging buffers are reused only with a sink that releases each chunk at its write callback, and the archive stays exact', async (t) => {
  const items: Item[] = [];
  for (let i = 0; i < 700; i++) items.push({ h: { name: `f${i}`, type: 'file', mode: 0o644, mtime: 1, size: 8192 + i }, data: bytes(8192 + i, i), how: 'small' });
  // A sink that copies each chunk when it takes it and then lets go of it,
  // as EarlyFlushFileSink does; it also remembers which buffers it saw.
  const got: Buffer[] = [];
  const seen = new Set<ArrayBufferLike>();
  const releasing = Object.assign(new Writable({
    write(chunk: Buffer, _enc, cb) {
      got.push(Buffer.from(chunk));
      seen.add(chunk.buffer);
      setImmediate(cb);
    },
  }), { releasesChunks: true as const });
  const writer = new TarWriter(releasing);
  for (const { h, data } of items) await writer.addSmallFile(h, (buf, off, len) => data!.copy(buf, off, 0, len));
  const { size } = await writer.finish();
  const out = Buffer.concat(got);
  t.is(size, out.length);
  t.true(out.equals(reference(items)));
  t.true(got.length > 5 && seen.size < got.length, 'buffers went round');
  // A plain stream keeps every chunk it was given: fresh buffers each time.
  const plain = await writeAll(items);
  t.true(plain.out.equals(out));
});
