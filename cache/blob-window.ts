// Reads of the previous layer blob for a re-run step's new layer
// (layer-diff.ts): the bytes of the files it linked from the previous
// snapshot, by their offsets in the previous blob (cache/layer-index.ts).
import { readSync } from 'node:fs';
import { SMALL_FILE_LIMIT } from './tar-writer.js';

const WINDOW = SMALL_FILE_LIMIT;

/**
 * Reads ranges of the previous blob through a window of it: the files a
 * re-run links come in the blob's own order, so thousands of small files
 * cost a few big reads instead of one each.
 */
export class BlobWindow {
  private readonly buf = Buffer.allocUnsafe(WINDOW);
  private start = 0;
  private end = 0;

  constructor(private readonly fd: number) {}

  /** `length` bytes of the blob from `from` into dst at offset (fewer only at its end). */
  read(from: number, dst: Buffer, offset: number, length: number): number {
    if (from < this.start || from + length > this.end) {
      if (length > this.buf.length) return readRange(this.fd, from, dst, offset, length);
      this.start = from;
      this.end = from + readRange(this.fd, from, this.buf, 0, this.buf.length);
    }
    const got = Math.max(0, Math.min(length, this.end - from));
    this.buf.copy(dst, offset, from - this.start, from - this.start + got);
    return got;
  }
}

/** `length` bytes of the file at fd from `from` into buf at offset (fewer only at its end). */
export function readRange(fd: number, from: number, buf: Buffer, offset: number, length: number): number {
  let off = 0;
  while (off < length) {
    const n = readSync(fd, buf, offset + off, length - off, from + off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

export async function* readBlobRange(blob: BlobWindow, from: number, size: number): AsyncIterable<Buffer> {
  for (let off = 0; off < size;) {
    const buf = Buffer.allocUnsafe(Math.min(WINDOW, size - off));
    const n = blob.read(from + off, buf, 0, buf.length);
    if (n === 0) return; // the writer reports the short data
    yield buf.subarray(0, n);
    off += n;
  }
}
