import { writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Bytes written between two background flushes. */
const FLUSH_EVERY = 8 << 20;

/**
 * A Writable into a new file that flushes it to disk AS IT GROWS: every
 * FLUSH_EVERY bytes an fdatasync runs in the background (one at a time)
 * while the writer carries on. A layer blob must be fsynced before the
 * store adopts it; done only at the end, that fsync waited for the whole
 * layer to reach the disk (~100 ms for 40 MB here, after the tar was
 * already written). Flushed while the tar is being made, the final fsync
 * finds almost nothing left to write.
 *
 * The file is created exclusively (mode 0644 before umask); the stream
 * never ends before its last flush has returned, so no sync runs on a
 * closed (or reused) descriptor.
 */
export class EarlyFlushFileSink extends Writable {
  /** Each chunk is written out (or copied) before its write callback runs: see TarWriter. */
  readonly releasesChunks = true;
  private handle: fsp.FileHandle | undefined;
  private sinceFlush = 0;
  private flushing: Promise<void> | undefined;
  private flushError: Error | undefined;

  constructor(private readonly file: string, private readonly flushEvery = FLUSH_EVERY) {
    super({ highWaterMark: 1 << 20 });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    fsp.open(this.file, 'wx', 0o644).then((h) => {
      this.handle = h;
      callback();
    }, callback);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.writeAll(Buffer.concat(chunks.map((c) => c.chunk))).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      await this.flushing;
      if (this.flushError) throw this.flushError;
    })().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    (async () => {
      await this.flushing;
      await this.handle?.close();
      this.handle = undefined;
    })().then(() => callback(error), (e: Error) => callback(error ?? e));
  }

  private async writeAll(buf: Buffer): Promise<void> {
    if (this.flushError) throw this.flushError;
    // Synchronous: a megabyte into the page cache is a fraction of a
    // millisecond, while a threadpool round trip per chunk (the writes are
    // one after the other) waited for a free thread each time; on a busy
    // machine that made writing a 40 MB layer take most of a second.
    const fd = this.handle!.fd;
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
    this.sinceFlush += buf.length;
    if (this.sinceFlush >= this.flushEvery && !this.flushing) {
      this.sinceFlush = 0;
      const handle = this.handle!;
      this.flushing = handle.datasync().then(
        () => { this.flushing = undefined; },
        (e: Error) => { this.flushing = undefined; this.flushError ??= e; },
      );
    }
  }
}
