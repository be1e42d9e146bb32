import { createHash } from '../runner-native/native-crypto.js';
import type { Writable } from 'node:stream';
import { type Digest, digestFromHex } from './digest.js';
import { BLOCK, type TarHeaderInput, encodeArchiveHeader, encodeHeader, encodeHeaderInto, padLength } from './tar-format.js';

const BATCH = 1 << 20;
/** Staging buffers kept for reuse (a few writes may be in flight). */
const SPARE_BUFFERS = 4;

/**
 * A Writable that is done with each chunk once that chunk's write callback
 * has run (it wrote or copied it), so the writer may reuse the buffer.
 */
export interface ChunkReleasingWritable extends Writable {
  readonly releasesChunks: true;
}

/** Largest file addSmallFile takes: it must fit an empty staging buffer. */
export const SMALL_FILE_LIMIT = BATCH;

/**
 * Writes a tar stream to a Writable, honouring backpressure, and computes
 * the sha256 (the layer's diffId) and size of exactly the bytes written.
 *
 * Headers, padding and small files go into one staging buffer that is
 * hashed and written a megabyte at a time: a layer of thousands of small
 * files used to cost a buffer per header, per file and per padding, a
 * concat and three hash updates per file. Headers are encoded in place and
 * small files are read straight into the staging buffer (addSmallFile).
 */
export class TarWriter {
  private readonly hash = createHash('sha256');
  private written = 0;
  private failure: Error | undefined;
  // Written out buffers stay referenced by the stream until flushed, so a
  // fresh one is taken after each flush rather than reused; unless the
  // stream says it is done with a chunk once the chunk's write callback
  // has run (ChunkReleasingWritable): then the staging buffers go round,
  // and a 40 MB layer does not fault in 40 fresh megabytes.
  private buf = Buffer.allocUnsafeSlow(BATCH);
  private pos = 0;
  private readonly spare: (typeof this.buf)[] = [];
  private readonly recycle: boolean;

  /**
   * headers: 'layer' (PAX, the layer format) or 'archive' (the layout of
   * exported image archives, see encodeArchiveHeader).
   */
  constructor(private readonly out: Writable, private readonly headers: 'layer' | 'archive' = 'layer') {
    this.recycle = (out as Partial<ChunkReleasingWritable>).releasesChunks === true;
    out.on('error', (e) => {
      this.failure ??= e;
    });
  }

  /** Bytes of the tar so far (written or staged): where the next bytes will sit. */
  get position(): number {
    return this.written + this.pos;
  }

  /** Adds an entry; `body` must yield exactly `h.size` bytes for files. */
  async add(h: TarHeaderInput, body?: AsyncIterable<Buffer> | Buffer): Promise<void> {
    await this.header(h);
    if (h.type !== 'file') return;
    const size = h.size ?? 0;
    let sent = 0;
    if (body) {
      const chunks = Buffer.isBuffer(body) ? [body] : body;
      for await (const chunk of chunks) {
        // A file that grew since it was stat'ed is cut at the announced size.
        const part = sent + chunk.length > size ? chunk.subarray(0, size - sent) : chunk;
        if (part.length > 0) await this.write(part);
        sent += part.length;
        if (sent === size) break;
      }
    }
    if (sent !== size) throw shortData(h.name, size, sent);
    await this.zeros(padLength(size));
  }

  /**
   * Adds a regular file of `h.size` <= SMALL_FILE_LIMIT bytes whose data
   * `read(buf, offset, length)` puts into buf[offset, offset + length)
   * synchronously, returning how many bytes it put (fewer: the file shrank,
   * an error). The bytes land in the staging buffer directly.
   */
  async addSmallFile(h: TarHeaderInput, read: (buf: Buffer, offset: number, length: number) => number): Promise<void> {
    const size = h.size ?? 0;
    if (h.type !== 'file' || size > SMALL_FILE_LIMIT) throw new Error(`addSmallFile: ${h.name} is not a file of at most ${SMALL_FILE_LIMIT} bytes`);
    await this.header(h);
    if (size === 0) return;
    if (this.pos + size > BATCH) await this.flush();
    const got = read(this.buf, this.pos, size);
    if (got !== size) throw shortData(h.name, size, got);
    this.pos += size;
    await this.zeros(padLength(size));
  }

  /**
   * addSmallFile with no promise, when the entry fits the staging buffer
   * as it is and its header needs no PAX record: true once added; false
   * when nothing was done (then use addSmallFile). A layer of thousands of
   * small files takes this path for all but one file per megabyte.
   */
  addSmallFileNow(h: TarHeaderInput, read: (buf: Buffer, offset: number, length: number) => number): boolean {
    const size = h.size ?? 0;
    const pad = padLength(size);
    if (this.failure || this.headers !== 'layer' || h.type !== 'file' || this.pos + BLOCK + size + pad > BATCH) return false;
    if (encodeHeaderInto(h, this.buf, this.pos) === 0) return false;
    this.pos += BLOCK;
    if (size === 0) return true;
    const got = read(this.buf, this.pos, size);
    if (got !== size) throw shortData(h.name, size, got);
    this.pos += size;
    if (pad > 0) {
      this.buf.fill(0, this.pos, this.pos + pad);
      this.pos += pad;
    }
    return true;
  }

  /**
   * Adds `length` bytes of whole, already encoded entries (headers, data
   * and padding, ending on a block boundary) that `read(buf, offset,
   * length)` puts into buf synchronously, in order, returning how many it
   * put (0: the source ended early). They land in the staging buffer a
   * megabyte at a time: a run of thousands of entries costs a few reads.
   */
  async addEncoded(length: number, read: (buf: Buffer, offset: number, length: number) => number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.headers !== 'layer' || length % BLOCK !== 0) throw new Error(`addEncoded: ${length} bytes is not whole layer entries`);
    for (let left = length; left > 0;) {
      if (this.pos === BATCH) await this.flush();
      const got = read(this.buf, this.pos, Math.min(left, BATCH - this.pos));
      if (got <= 0) throw new Error(`tar: encoded entries ended ${left} bytes early`);
      this.pos += got;
      left -= got;
    }
  }

  /** Writes the end-of-archive marker, ends `out` and waits until it finished. */
  async finish(): Promise<{ diffId: Digest; size: number }> {
    await this.zeros(2 * BLOCK);
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.out.once('error', reject);
      this.out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    return { diffId: digestFromHex(this.hash.digest('hex')), size: this.written };
  }

  private async header(h: TarHeaderInput): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.headers === 'archive') return this.write(encodeArchiveHeader(h));
    if (this.pos + BLOCK > BATCH) await this.flush();
    const n = encodeHeaderInto(h, this.buf, this.pos);
    if (n > 0) this.pos += n;
    else await this.write(encodeHeader(h)); // needs PAX records: several blocks
  }

  private async zeros(n: number): Promise<void> {
    if (n === 0) return;
    if (this.pos + n > BATCH) await this.flush();
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  private async write(b: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (b.length <= BATCH - this.pos) {
      b.copy(this.buf, this.pos);
      this.pos += b.length;
      return;
    }
    await this.flush();
    if (b.length < BATCH / 2) {
      b.copy(this.buf, 0);
      this.pos = b.length;
      return;
    }
    // Big chunks (streamed large files) go out as they are, in order after the staged bytes.
    this.hash.update(b);
    this.written += b.length;
    await this.send(b);
  }

  private async flush(): Promise<void> {
    if (this.pos === 0) return;
    const full = this.buf;
    const chunk = full.subarray(0, this.pos);
    this.buf = this.spare.pop() ?? Buffer.allocUnsafeSlow(BATCH);
    this.pos = 0;
    this.hash.update(chunk);
    this.written += chunk.length;
    await this.send(chunk, this.recycle ? (err) => { if (!err && this.spare.length < SPARE_BUFFERS) this.spare.push(full); } : undefined);
  }

  private async send(buf: Buffer, written?: (err?: Error | null) => void): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.out.write(buf, written)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        this.out.off('drain', onDrain);
        this.out.off('error', done);
        this.out.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(this.failure ?? new Error('tar output closed early'));
      this.out.on('drain', onDrain);
      this.out.on('error', done);
      this.out.on('close', onClose);
    });
  }
}

function shortData(name: string, size: number, got: number): Error {
  return new Error(`tar entry ${name}: expected ${size} bytes of data, got ${got} (file changed while archiving?)`);
}
