import os from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/**
 * gzip that uses every core on ONE stream, the way pigz does: the input is
 * cut into fixed-size blocks, each block is deflated on the libuv threadpool
 * with the previous block's last 32 KiB as its dictionary (so the ratio
 * stays within a fraction of a percent of plain gzip), and the raw deflate
 * pieces are joined in order. Every block but the last ends with a sync
 * flush (a byte-aligned empty stored block), so the concatenation is one
 * valid deflate stream inside one gzip member that any gunzip reads.
 *
 * Why: an image is often one big layer (`COPY . /app`); compressing it with
 * a single zlib stream leaves all but one core idle and makes export slower
 * than `tar | gzip`. The output depends only on the input, level and block
 * size (never on timing or core count), so layer digests stay reproducible.
 */
export interface ParallelGzipOptions {
  /** zlib level 0-9; default 6. */
  level?: number;
  /** Uncompressed bytes per block; fixed, because it shapes the output bytes. Default 1 MiB. */
  blockSize?: number;
  /** Blocks compressed at once; default the number of CPUs (the threadpool caps it too). */
  concurrency?: number;
}

const WINDOW = 32 * 1024;
const DEFAULT_BLOCK = 1 << 20;
const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;
type Crc32 = (data: Buffer, value?: number) => number;
const crc32 = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** Whether this Node.js has what the parallel gzip needs (zlib.crc32: Node >= 20.15). */
export function parallelGzipSupported(): boolean {
  return typeof crc32 === 'function';
}

function gzipHeader(level: number): Buffer {
  // No name, no mtime (reproducible); XFL as zlib sets it; OS = 3 (Unix), like Node's createGzip.
  const xfl = level === 9 ? 2 : level <= 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly concurrency: number;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private dictionary: Buffer = Buffer.alloc(0);
  private readonly inflight: Promise<Buffer>[] = [];
  private crc = 0;
  private total = 0;

  constructor(opts: ParallelGzipOptions = {}) {
    super({ highWaterMark: 1 << 20 });
    if (!crc32) throw new Error('parallel gzip needs zlib.crc32 (Node.js >= 20.15)');
    this.level = opts.level ?? 6;
    this.blockSize = opts.blockSize ?? DEFAULT_BLOCK;
    this.concurrency = Math.max(1, opts.concurrency ?? os.availableParallelism());
    this.push(gzipHeader(this.level));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.crc = crc32!(chunk, this.crc);
    this.total += chunk.length;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    this.drainFullBlocks().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    (async () => {
      await this.drainFullBlocks();
      this.dispatch(this.takeBlock(this.pendingLength), true);
      while (this.inflight.length > 0) this.push(await this.inflight.shift()!);
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.total % 2 ** 32, 4); // ISIZE is the length modulo 2^32
      this.push(trailer);
    })().then(() => cb(), cb);
  }

  private async drainFullBlocks(): Promise<void> {
    while (this.pendingLength >= this.blockSize) {
      this.dispatch(this.takeBlock(this.blockSize), false);
      // Bounded memory: wait for the oldest block before starting more than `concurrency`.
      if (this.inflight.length >= this.concurrency) this.push(await this.inflight.shift()!);
    }
  }

  private takeBlock(size: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength);
    const block = all.subarray(0, size);
    const rest = all.subarray(size);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingLength = rest.length;
    return block;
  }

  private dispatch(block: Buffer, last: boolean): void {
    const opts: zlib.ZlibOptions = { level: this.level, finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (this.dictionary.length > 0) opts.dictionary = this.dictionary;
    const job = deflateRaw(block, opts);
    job.catch(() => {}); // awaited in order later; avoid an unhandled rejection meanwhile
    this.inflight.push(job);
    // Copy: the next block's dictionary must not pin this whole block in memory.
    this.dictionary = Buffer.from(block.subarray(Math.max(0, block.length - WINDOW)));
  }
}

/** A gzip Transform: parallel where this Node.js allows, zlib's own stream otherwise. */
export function createParallelGzip(opts: ParallelGzipOptions = {}): Transform {
  return parallelGzipSupported() ? new ParallelGzip(opts) : zlib.createGzip({ level: opts.level ?? 6 });
}
