// BlobTail: a reader of a download's temp file that follows the writer,
// ends with it, and fails when the bytes it gave can no longer be trusted.
import test from 'ava';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BlobTail } from '../builder/registry/blob-tail.js';
import { tempDir } from './helpers/cli.js';

async function collect(tail: BlobTail): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of tail.chunks()) parts.push(c);
  return Buffer.concat(parts);
}

test('the reader gets every byte as it is written, and ends when the download ends', async (t) => {
  const file = path.join(await tempDir(), 'blob');
  const fh = await fs.open(file, 'w+');
  const tail = new BlobTail(file);
  const read = collect(tail);
  let have = 0;
  for (let i = 0; i < 20; i++) {
    const chunk = Buffer.alloc(70_000, i);
    await fh.write(chunk, 0, chunk.length, have);
    have += chunk.length;
    tail.grew(have);
    await new Promise((r) => setImmediate(r));
  }
  await fh.close();
  // Moved to its final name while the reader still holds it open.
  await fs.rename(file, file + '.final');
  tail.verified();
  const got = await read;
  t.is(got.length, have);
  for (let i = 0; i < 20; i++) t.is(got[i * 70_000], i);
  await t.notThrowsAsync(tail.downloaded);
});

test('a failed download fails the reader and the downloaded promise', async (t) => {
  const file = path.join(await tempDir(), 'blob');
  await fs.writeFile(file, Buffer.alloc(1000, 7));
  const tail = new BlobTail(file);
  tail.grew(1000);
  const read = collect(tail);
  await new Promise((r) => setTimeout(r, 20));
  tail.fail(new Error('the download of blob x restarted'));
  await t.throwsAsync(read, { message: /restarted/ });
  await t.throwsAsync(tail.downloaded, { message: /restarted/ });
});
