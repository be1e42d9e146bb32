import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { type Digest, digestFromHex } from './digest.js';
import { END_OF_ARCHIVE, type TarHeaderInput, encodeHeader, padding } from './tar-format.js';

const BATCH = 1 << 20;

/**
 * Writes a tar stream to a Writable, honouring backpressure, and computes
 * the sha256 (the layer's diffId) and size of exactly the bytes written.
 */
export class TarWriter {
  private readonly hash = createHash('sha256');
  private written = 0;
  private failure: Error | undefined;
  // Headers, padding and small files are gathered into big writes: one
  // write per 512-byte header costs far more than the bytes themselves.
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly out: Writable) {
    out.on('error', (e) => {
      this.failure ??= e;
    });
  }

  /** Adds an entry; `body` must yield exactly `h.size` bytes for files. */
  async add(h: TarHeaderInput, body?: AsyncIterable<Buffer> | Buffer): Promise<void> {
    await this.write(encodeHeader(h));
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
    if (sent !== size) {
      throw new Error(`tar entry ${h.name}: expected ${size} bytes of data, got ${sent} (file changed while archiving?)`);
    }
    const pad = padding(size);
    if (pad.length > 0) await this.write(pad);
  }

  /** Writes the end-of-archive marker, ends `out` and waits until it finished. */
  async finish(): Promise<{ diffId: Digest; size: number }> {
    await this.write(END_OF_ARCHIVE);
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.out.once('error', reject);
      this.out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    return { diffId: digestFromHex(this.hash.digest('hex')), size: this.written };
  }

  private async write(buf: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.hash.update(buf);
    this.written += buf.length;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.out.write(buf)) return;
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
