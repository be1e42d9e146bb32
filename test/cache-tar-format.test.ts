import test from 'ava';
import tarStream from 'tar-stream';
import { END_OF_ARCHIVE, type TarHeaderInput, encodeHeader, padding } from '../cache/tar-format.js';
import { TarReader } from '../cache/tar-reader.js';

function archive(entries: [TarHeaderInput, Buffer?][]): Buffer {
  const parts: Buffer[] = [];
  for (const [h, data] of entries) {
    parts.push(encodeHeader({ ...h, size: data?.length ?? 0 }));
    if (data) parts.push(data, padding(data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** Feeds the archive in awkward chunk sizes to exercise the reader's buffering. */
async function* chunked(buf: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function readAll(buf: Buffer, chunk = 7) {
  const r = new TarReader(chunked(buf, chunk));
  const out = [];
  for (let h; (h = await r.next()); ) {
    const parts: Buffer[] = [];
    for await (const b of r.body()) parts.push(b);
    out.push({ ...h, data: Buffer.concat(parts) });
  }
  return out;
}

test('names of every length around the ustar limits survive (ours and tar-stream)', async (t) => {
  const entries: [TarHeaderInput, Buffer?][] = [];
  for (let len = 90; len <= 320; len += 1) {
    const name = ('n'.repeat(len - 1) + 'é').slice(0, len);
    entries.push([{ name, type: 'file', mode: 0o644, mtime: 1 }, Buffer.from(String(len))]);
  }
  const tar = archive(entries);
  const ours = await readAll(tar, 511);
  t.deepEqual(ours.map((e) => e.name), entries.map(([h]) => h.name));
  t.deepEqual(ours.map((e) => e.data.toString()), entries.map(([, d]) => d!.toString()));

  const ex = tarStream.extract();
  const names: string[] = [];
  const done = (async () => {
    for await (const e of ex) {
      names.push(e.header.name);
      e.resume();
    }
  })();
  ex.end(tar);
  await done;
  t.deepEqual(names, entries.map(([h]) => h.name));
});

test('PAX carries big ids, long link names and binary xattrs exactly', async (t) => {
  const xattrs = new Map([
    ['security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')],
    ['user.empty', Buffer.alloc(0)],
    ['user.newline', Buffer.from('a\nb=c\u00ff')],
  ]);
  const [e] = await readAll(archive([[{
    name: 'f', type: 'symlink', mode: 0o777, uid: 3_000_000_000, gid: 2 ** 40, mtime: 1_700_000_000,
    linkname: 'x/'.repeat(200), xattrs,
  }]]));
  t.is(e.uid, 3_000_000_000);
  t.is(e.gid, 2 ** 40);
  t.is(e.linkname, 'x/'.repeat(200));
  t.is(e.mtime, 1_700_000_000);
  t.deepEqual([...e.xattrs.keys()].sort(), [...xattrs.keys()].sort());
  for (const [k, v] of xattrs) t.true(e.xattrs.get(k)!.equals(v), k);
});

test('PAX record lengths are right where the digit count changes', async (t) => {
  // Values sized so the record length straddles 99/100 and 999/1000.
  for (let n = 80; n < 110; n++) {
    const [e] = await readAll(archive([[{ name: 'f', type: 'file', mode: 0o644, mtime: 0, xattrs: new Map([['user.v', Buffer.alloc(n, 'v')]]) }]]));
    t.is(e.xattrs.get('user.v')!.length, n);
  }
  for (let n = 980; n < 1000; n++) {
    const [e] = await readAll(archive([[{ name: 'f', type: 'file', mode: 0o644, mtime: 0, xattrs: new Map([['user.v', Buffer.alloc(n, 'v')]]) }]]));
    t.is(e.xattrs.get('user.v')!.length, n);
  }
});

test('directory names end in / and device numbers round-trip', async (t) => {
  const entries = await readAll(archive([
    [{ name: 'd', type: 'dir', mode: 0o755, mtime: 5 }],
    [{ name: 'dev/null', type: 'char', mode: 0o666, mtime: 5, devmajor: 1, devminor: 3 }],
  ]));
  t.is(entries[0].name, 'd/');
  t.is(entries[0].type, 'dir');
  t.deepEqual([entries[1].devmajor, entries[1].devminor], [1, 3]);
});

test('octal fields are exact on both sides of 2^31 (small values take a shift path, big ones a division)', (t) => {
  const field = (b: Buffer, off: number, width: number) => b.subarray(off, off + width).toString('latin1');
  for (const mtime of [0, 1, 0x7fffffff, 0x80000000, 2 ** 33 - 1]) {
    for (const size of [0, 8191, 0x7fffffff, 0x80000000, 3 * 2 ** 30 + 5]) {
      const h = encodeHeader({ name: 'f', type: 'file', mode: 0o4755, uid: 0o7777777, gid: 1000, mtime, size });
      t.is(field(h, 100, 8), '0004755\0');
      t.is(field(h, 108, 8), '7777777\0');
      t.is(field(h, 116, 8), `${(1000).toString(8).padStart(7, '0')}\0`);
      t.is(field(h, 124, 12), `${size.toString(8).padStart(11, '0')}\0`, `size ${size}`);
      t.is(field(h, 136, 12), `${mtime.toString(8).padStart(11, '0')}\0`, `mtime ${mtime}`);
      let sum = 8 * 0x20;
      for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += h[i]!;
      t.is(parseInt(field(h, 148, 7), 8), sum);
    }
  }
});
