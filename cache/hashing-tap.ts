// A pass-through stream that sha256-hashes and counts the bytes flowing
// through it: for downloads and layer blobs whose digest and size are
// learnt while they are written somewhere else.
import { createHash } from '../runner-native/native-crypto.js';
import { Transform, type TransformCallback } from 'node:stream';

export class HashingTap extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  /** Lowercase hex sha256 of everything that passed; call once, after the stream ended. */
  hex(): string {
    return this.hash.digest('hex');
  }
}
