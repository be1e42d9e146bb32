// The block-parallel gzip that image export uses for layers: any gunzip
// (zlib, the system gzip) reads back the exact input, the bytes do not
// depend on how many blocks ran at once, and the ratio stays close to a
// single zlib stream.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ParallelGzip, parallelGzipSupported, type ParallelGzipOptions } from '../cache/parallel-gzip.js';

const it = parallelGzipSupported() ? test : test.skip;

async function pgzip(input: Buffer, opts: ParallelGzipOptions, pieceSize = 7919): Promise<Buffer> {
  // Odd-sized pieces: block boundaries never line up with write boundaries.
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += pieceSize) pieces.push(input.subarray(i, i + pieceSize));
  const out: Buffer[] = [];
  const gz = new ParallelGzip(opts);
  const done = (async () => {
    for await (const c of gz) out.push(c as Buffer);
  })();
  Readable.from(pieces).pipe(gz);
  await done;
  return Buffer.concat(out);
}

function text(bytes: number): Buffer {
  const words = ['layer', 'image', 'COPY', 'RUN', 'export', 'digest', 'sha256', '\n'];
  let s = '';
  let seed = 7;
  while (s.length < bytes) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    s += words[seed % words.length] + ' ';
  }
  return Buffer.from(s.slice(0, bytes));
}

const BLOCK = 64 * 1024;

it('round-trips through zlib and the system gzip at every size around block boundaries', async (t) => {
  for (const size of [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17]) {
    const input = Buffer.concat([text(Math.ceil(size / 2)), randomBytes(Math.floor(size / 2))]);
    const gz = await pgzip(input, { blockSize: BLOCK, level: 6 });
    t.true(gunzipSync(gz).equals(input), `zlib, size ${size}`);
    t.true(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 1 << 26 }).equals(input), `gzip -d, size ${size}`);
  }
});

it('the output depends only on input, level and block size, not on concurrency', async (t) => {
  const input = Buffer.concat([text(400_000), randomBytes(100_000), text(300_000)]);
  const one = await pgzip(input, { blockSize: BLOCK, concurrency: 1 });
  const many = await pgzip(input, { blockSize: BLOCK, concurrency: 8 }, 65_537);
  t.true(one.equals(many));
  t.false(one.equals(await pgzip(input, { blockSize: BLOCK, level: 1 })));
  // Header: gzip magic, deflate, no name, zero mtime (reproducible).
  t.deepEqual([...one.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
});

it('compresses within 1% of a single zlib stream (dictionaries carry the window across blocks)', async (t) => {
  const input = text(2_000_000);
  const parallel = await pgzip(input, { level: 6 });
  const single = gzipSync(input, { level: 6 });
  t.true(parallel.length <= single.length * 1.01, `${parallel.length} vs ${single.length}`);
  t.true(gunzipSync(parallel).equals(input));
});

it('ISIZE is the length modulo 2^32 and the CRC matches (checked by gzip -t)', async (t) => {
  const input = randomBytes(300_000);
  const gz = await pgzip(input, { blockSize: BLOCK });
  t.is(gz.readUInt32LE(gz.length - 4), input.length);
  t.notThrows(() => execFileSync('gzip', ['-t'], { input: gz }));
});
