import { createHash, randomBytes } from '../runner-native/native-crypto.js';
import { chmodSync, closeSync, createReadStream, fstatSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { type Digest, digestFromHex, hexOf, isDigest } from './digest.js';
import { CacheError } from './errors.js';
import { removeLayerIndex } from './layer-index.js';
import { statQuiet } from './quiet-stat.js';
import { fsyncAsync } from './write-atomic.js';
import { listDir } from './list-dir.js';

/**
 * Blobs addressed by sha256, laid out like an OCI image layout
 * (`<root>/blobs/sha256/<hex>`) so exporters can hard-link or copy them as is.
 *
 * Every write goes to a temp file under `<root>/tmp` (same filesystem, so the
 * final rename is atomic), is fsynced and verified, and only then renamed to
 * its final name. A crash or `kill -9` therefore never leaves a partial blob
 * under a final name, and two processes writing the same blob both succeed:
 * the contents are identical, so whichever rename lands last is harmless.
 */
export class ContentStore {
  readonly root: string;
  private readonly blobDir: string;
  private readonly tmpDir: string;
  private dirsReady: Promise<void> | undefined;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.blobDir = path.join(this.root, 'blobs', 'sha256');
    this.tmpDir = path.join(this.root, 'tmp');
  }

  path(d: Digest): string {
    return path.join(this.blobDir, hexOf(d));
  }

  /** Directory for temp files; callers may create files here to hand to putFile. */
  tempDir(): string {
    return this.tmpDir;
  }

  // One stat, synchronous: cheaper than the threadpool round trip, which
  // queues behind the build's fsyncs (every blob write asks first).
  async has(d: Digest): Promise<boolean> {
    return statQuiet(this.path(d)) !== undefined;
  }

  // Synchronous, as has(): one stat.
  async size(d: Digest): Promise<number> {
    try {
      return statSync(this.path(d)).size;
    } catch (e) {
      throw this.mapMissing(e, d);
    }
  }

  // A document (a config, a manifest: kilobytes) is created, written,
  // closed and renamed by synchronous calls; only its fsync goes to the
  // threadpool. At a build's end each of those round trips queued behind
  // the last layer's writes and the checksum table's: a config's write
  // came ~3.5 ms after the index's (strace of bench project c's rebuild).
  async putBuffer(data: Buffer | string, expected?: Digest): Promise<Digest> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = digestFromHex(createHash('sha256').update(buf).digest('hex'));
    checkExpected(digest, expected);
    // Skipping the write when present keeps metadata writes (configs,
    // manifests) cheap; the blob is immutable, so presence means done.
    if (await this.has(digest)) return digest;
    const tmp = await this.newTempPath();
    try {
      // Read-only from its creation (the descriptor still writes): blobs are never edited in place.
      const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o444);
      try {
        writeFileSync(fd, buf);
        await fsyncAsync(fd);
      } finally {
        closeSync(fd);
      }
      this.commitSync(tmp, digest);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    return digest;
  }

  async putStream(
    src: NodeJS.ReadableStream | AsyncIterable<Buffer>,
    expected?: Digest,
  ): Promise<{ digest: Digest; size: number; added: boolean }> {
    const tmp = await this.newTempPath();
    const hash = createHash('sha256');
    let size = 0;
    try {
      const fh = await fsp.open(tmp, 'wx', 0o644);
      try {
        for await (const chunk of src as AsyncIterable<Buffer | string>) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          hash.update(buf);
          size += buf.length;
          await fh.write(buf);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = digestFromHex(hash.digest('hex'));
      checkExpected(digest, expected);
      await fsp.chmod(tmp, 0o444);
      const added = this.commitSync(tmp, digest);
      return { digest, size, added };
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  async putFile(tempPath: string, expected?: Digest): Promise<{ digest: Digest; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    // Hash and fsync through one descriptor so what we verify is what we move.
    const fh = await fsp.open(tempPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new CacheError('UNSUPPORTED_FILE', `putFile: ${tempPath} is not a regular file`);
      for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: 1 << 20 })) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const digest = digestFromHex(hash.digest('hex'));
    try {
      checkExpected(digest, expected);
    } catch (e) {
      await fsp.rm(tempPath, { force: true });
      throw e;
    }
    return this.moveIn(tempPath, digest, size);
  }

  /**
   * For a temp file this process wrote and hashed while writing it (a layer
   * tar): fsync and move it in without reading its bytes back a second time.
   * The size is checked as a guard against a short write.
   */
  async adoptFile(tempPath: string, digest: Digest, size: number): Promise<{ digest: Digest; size: number }> {
    // Stored already (a step that made the same layer again, the empty
    // layer of a WORKDIR): durable since it was moved in, nothing to sync.
    // The temp file goes by one synchronous unlink: its threadpool round
    // trips (an lstat, then the unlink) queued behind the other layers'
    // fsyncs, 7 ms on a one-file rebuild's WORKDIR.
    if (await this.has(digest)) {
      rmSync(tempPath, { force: true });
      return { digest, size };
    }
    // Opened, checked and closed synchronously, as putBuffer() does; the fsync on the threadpool.
    let fd: number | undefined;
    try {
      fd = openSync(tempPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
      const st = fstatSync(fd);
      if (!st.isFile() || st.size !== size) {
        throw new CacheError('DIGEST_MISMATCH', `adoptFile: ${tempPath} has ${st.size} bytes, ${size} were written`);
      }
      await fsyncAsync(fd);
    } catch (e) {
      rmSync(tempPath, { force: true });
      throw e;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return this.moveIn(tempPath, digest, size);
  }

  private async moveIn(tempPath: string, digest: Digest, size: number): Promise<{ digest: Digest; size: number }> {
    await this.ensureDirs();
    if (await this.has(digest)) {
      rmSync(tempPath, { force: true });
      return { digest, size };
    }
    try {
      // Read-only blobs make accidental in-place edits fail loudly.
      chmodSync(tempPath, 0o444);
      renameSync(tempPath, this.path(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      // Another filesystem: copy through our own temp file to stay atomic.
      const { size: copied } = await this.putStream(createReadStream(tempPath), digest);
      await fsp.rm(tempPath, { force: true });
      return { digest, size: copied };
    }
    return { digest, size };
  }

  // For documents (manifests, configs, indexes: kilobytes): read
  // synchronously, where the threadpool's four round trips per read queue
  // behind the build's layer writes; a build reads its base image's twice.
  async readBuffer(d: Digest): Promise<Buffer> {
    let buf: Buffer;
    try {
      buf = readFileSync(this.path(d));
    } catch (e) {
      throw this.mapMissing(e, d);
    }
    const actual = createHash('sha256').update(buf).digest('hex');
    if (actual !== hexOf(d)) throw corruptBlob(d, actual);
    return buf;
  }

  /**
   * Streams a blob and verifies its digest as it goes; a mismatch surfaces
   * as a CORRUPT_BLOB error at the end of the stream (the bytes have been
   * delivered by then, so consumers must treat the error as fatal).
   */
  openRead(d: Digest): NodeJS.ReadableStream {
    const hash = createHash('sha256');
    const verifier = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
      flush(cb) {
        const actual = hash.digest('hex');
        cb(actual === hexOf(d) ? null : corruptBlob(d, actual));
      },
    });
    const file = createReadStream(this.path(d), { highWaterMark: 1 << 20 });
    file.on('error', (e) => verifier.destroy(this.mapMissing(e, d) as Error));
    // pipe() does not close the source when the consumer gives up early.
    verifier.on('close', () => file.destroy());
    return file.pipe(verifier);
  }

  async delete(d: Digest): Promise<void> {
    await fsp.rm(this.path(d), { force: true });
    // A layer blob's index (cache/layer-index.ts) goes with it.
    await removeLayerIndex(this.root, d);
  }

  async *list(): AsyncIterable<Digest> {
    let names: string[];
    try {
      names = await fsp.readdir(this.blobDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const name of names.sort()) {
      const d = 'sha256:' + name;
      if (isDigest(d)) yield d;
    }
  }

  /**
   * Removes temp files left by crashed writers. Age is measured from the last
   * write (mtime), so a slow but live writer elsewhere is not disturbed.
   */
  async cleanTemp(maxAgeMs = 60 * 60 * 1000): Promise<void> {
    const now = Date.now();
    for (const name of listDir(this.tmpDir)) {
      const p = path.join(this.tmpDir, name);
      try {
        const st = await fsp.lstat(p);
        if (now - st.mtimeMs >= maxAgeMs) await fsp.rm(p, { recursive: true, force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }

  /** A fresh, unique temp path under <root>/tmp (the file is not created). */
  async newTempPath(label = 'blob'): Promise<string> {
    await this.ensureDirs();
    return path.join(this.tmpDir, `${label}-${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  private ensureDirs(): Promise<void> {
    this.dirsReady ??= (async () => {
      await fsp.mkdir(this.blobDir, { recursive: true });
      await fsp.mkdir(this.tmpDir, { recursive: true });
    })();
    return this.dirsReady;
  }

  /** Moves a verified, fsynced, read-only temp file to its final name; false when the blob was there already. */
  private commitSync(tmp: string, digest: Digest): boolean {
    if (statQuiet(this.path(digest)) !== undefined) {
      rmSync(tmp, { force: true });
      return false;
    }
    // rename(2) atomically replaces a file a concurrent writer may have just
    // committed; both hold identical bytes, so the race is benign.
    renameSync(tmp, this.path(digest));
    return true;
  }

  private mapMissing(e: unknown, d: Digest): unknown {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') {
      return new CacheError('BLOB_NOT_FOUND', `blob ${d} is not in the content store at ${this.root}`);
    }
    return e;
  }
}

function checkExpected(actual: Digest, expected: Digest | undefined): void {
  if (expected !== undefined && actual !== expected) {
    throw new CacheError('DIGEST_MISMATCH', `content digest mismatch: expected ${expected}, got ${actual}`);
  }
}

function corruptBlob(d: Digest, actualHex: string): CacheError {
  return new CacheError('CORRUPT_BLOB', `blob ${d} in the content store is corrupt (its content hashes to sha256:${actualHex}); delete it and retry`);
}
