// Reads a blob while it downloads: the bytes already written to the
// download's temp file, then waits for more, until the download ends. A
// layer can so be unpacked during its download rather than after it,
// without holding the blob in memory and without slowing the download
// down to the unpacker's pace (the file is the buffer).
//
// What the reader gets is unverified until the download is: the consumer
// must treat its result as provisional until `downloaded` resolves, and
// throw it away if it rejects.
import { promises as fs } from 'node:fs';

const READ_SIZE = 1 << 20;

export class BlobTail {
  private written = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  /** Resolves once the blob is downloaded and verified; rejects when it will not be. */
  readonly downloaded: Promise<void>;

  constructor(private readonly path: string) {
    this.downloaded = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.downloaded.catch(() => undefined);
  }

  /** The download wrote up to `bytes`. */
  grew(bytes: number): void {
    this.written = bytes;
    this.poke();
  }

  /** Every byte is written (the reader may finish); verification is still to come. */
  end(): void {
    this.ended = true;
    this.poke();
  }

  /** The download is verified and stored. */
  verified(): void {
    this.end();
    this.resolveDone();
  }

  /** The bytes already read are not the blob (a restart, an error): readers fail. */
  fail(err: Error): void {
    this.failure ??= err;
    this.rejectDone(this.failure);
    this.poke();
  }

  async *chunks(): AsyncIterable<Buffer> {
    // Opened now, so the reads follow the file when the store renames it.
    const fh = await fs.open(this.path, 'r');
    try {
      let pos = 0;
      for (;;) {
        if (this.failure) throw this.failure;
        if (pos < this.written) {
          const want = Math.min(READ_SIZE, this.written - pos);
          const buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await fh.read(buf, 0, want, pos);
          if (bytesRead === 0) throw new Error(`${this.path}: shorter than the ${this.written} bytes written`);
          pos += bytesRead;
          yield buf.subarray(0, bytesRead);
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      await fh.close();
    }
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
