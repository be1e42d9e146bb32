// The body of a blob upload: records of [32-byte sha256][8-byte big-endian
// length][bytes], one per file content, as many as fit a request. Small
// files share one request instead of one stream each; the receiver checks
// every record's digest before it keeps it.
import { createHash } from '../../runner-native/native-crypto.js';
import { RemoteError } from './errors.js';

export const RECORD_HEADER_BYTES = 40;

export function recordHeader(digest: string, size: number): Buffer {
  const h = Buffer.alloc(RECORD_HEADER_BYTES);
  Buffer.from(digest.replace(/^sha256:/, ''), 'hex').copy(h, 0);
  h.writeBigUInt64BE(BigInt(size), 32);
  return h;
}

/** Reads exact byte counts from a stream of chunks. */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer | string>;
  private done = false;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.it.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** n bytes, or undefined at a clean end of the stream (before any of them). */
  async exact(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return undefined;
        throw new RemoteError('REMOTE_PROTOCOL', 'upload truncated');
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next n bytes as they arrive. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw new RemoteError('REMOTE_PROTOCOL', 'upload truncated');
      const part = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(part.length);
      left -= part.length;
      yield part;
    }
  }
}

export interface BlobRecord {
  digest: string;
  size: number;
  data: AsyncIterable<Buffer>;
}

/** The records of an upload; each record's data must be consumed before the next is read. */
export async function* readBlobRecords(source: AsyncIterable<Buffer | string>, maxSize: number): AsyncGenerator<BlobRecord> {
  const reader = new ByteReader(source);
  for (;;) {
    const header = await reader.exact(RECORD_HEADER_BYTES);
    if (!header) return;
    const size = Number(header.readBigUInt64BE(32));
    if (size > maxSize) throw new RemoteError('REMOTE_PROTOCOL', `upload record of ${size} bytes is larger than allowed`);
    yield { digest: `sha256:${header.subarray(0, 32).toString('hex')}`, size, data: reader.take(size) };
  }
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
