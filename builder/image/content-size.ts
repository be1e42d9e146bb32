// Layer sizes as docker reports them (`inspect`'s Size, `history`'s SIZE):
// the bytes of the files a layer holds, uncompressed: regular files by
// size, each inode once (a hard link adds nothing), symlinks by the length
// of their target, directories, devices and whiteouts nothing. An empty
// layer is 0B, whatever its tar or gzip framing weighs. Counted once per
// blob by reading its tar headers, and remembered beside the image index.
import { randomBytes } from '../../runner-native/native-crypto.js';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from '../../cache/lazy-zlib.js';
import type { ContentStore } from '../../cache/content-store.js';
import { hexOf, type Digest } from '../../cache/digest.js';
import { TarReader } from '../../cache/tar-reader.js';
import { sniffFileCompression } from './layer-digest.js';

export async function layerContentSize(content: ContentStore, blob: Digest, memoDir: string): Promise<number> {
  const memo = path.join(memoDir, hexOf(blob));
  const known = await readFile(memo, 'utf8').catch(() => '');
  if (/^\d+$/.test(known)) return Number(known);
  const compression = await sniffFileCompression(content.path(blob));
  if (compression === 'zstd') return content.size(blob); // no zstd decoder in Node 20: the blob size is the best we know
  const raw = content.openRead(blob);
  const stream = compression === 'gzip' ? raw.pipe(createGunzip()) : raw;
  const reader = new TarReader(stream as AsyncIterable<Buffer>);
  let total = 0;
  for (let h = await reader.next(); h; h = await reader.next()) {
    if (path.posix.basename(h.name).startsWith('.wh.')) continue;
    if (h.type === 'file') total += h.size;
    else if (h.type === 'symlink') total += Buffer.byteLength(h.linkname);
  }
  await reader.drain();
  await mkdir(memoDir, { recursive: true });
  const tmp = `${memo}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, String(total));
  await rename(tmp, memo);
  return total;
}

/** Content sizes of several layers, in order (a blob that appears twice, like the empty layer, is read once). */
export async function layerContentSizes(content: ContentStore, blobs: readonly Digest[], memoDir: string): Promise<number[]> {
  const unique = [...new Set(blobs)];
  const sizes = new Map(await Promise.all(unique.map(async (b) => [b, await layerContentSize(content, b, memoDir)] as const)));
  return blobs.map((b) => sizes.get(b)!);
}
