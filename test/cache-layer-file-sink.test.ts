import test from 'ava';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { EarlyFlushFileSink } from '../cache/layer-file-sink.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'layer-sink-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

test('the file holds exactly the bytes written, across many background flushes', async (t) => {
  const file = path.join(dir, 'a.tar');
  const parts = Array.from({ length: 300 }, (_, i) => pattern(1 + ((i * 7919) % 5000), i));
  // A flush every 3 KiB: dozens of them overlap the writes.
  await pipeline(Readable.from(parts), new EarlyFlushFileSink(file, 3 * 1024));
  t.true((await readFile(file)).equals(Buffer.concat(parts)));
  t.is((await stat(file)).size, parts.reduce((n, p) => n + p.length, 0));
});

test('an existing file is never overwritten', async (t) => {
  const file = path.join(dir, 'taken');
  await writeFile(file, 'keep');
  const sink = new EarlyFlushFileSink(file);
  const [err] = await once(sink, 'error');
  t.is((err as NodeJS.ErrnoException).code, 'EEXIST');
  t.is(await readFile(file, 'utf8'), 'keep');
});

test('destroy with an error closes the file and reports that error', async (t) => {
  const file = path.join(dir, 'b.tar');
  const sink = new EarlyFlushFileSink(file, 1024);
  await new Promise<void>((resolve, reject) => sink.write(pattern(10_000, 1), (e) => (e ? reject(e) : resolve())));
  sink.destroy(new Error('producer failed'));
  const [err] = await once(sink, 'error');
  t.is((err as Error).message, 'producer failed');
  if (!sink.closed) await once(sink, 'close');
  t.true(sink.closed);
});
