import type { FileHandle } from 'node:fs/promises';
import { corruptTar } from './errors.js';
import {
  BLOCK, type RawHeader, type TarHeader, decodeRawHeader, entryType, isZeroBlock, parsePaxRecords,
} from './tar-format.js';

/** Guards against hostile archives that declare enormous metadata records. */
const MAX_META_SIZE = 1 << 20;

/** Where the tar reader takes its bytes from. */
interface ByteSource {
  /** Exactly n bytes, or null if the source ended before the first byte. */
  readExact(n: number, what: string): Promise<Buffer | null>;
  /** Between 1 and max bytes; the source must not end first. */
  readSome(max: number, what: string): Promise<Buffer>;
  skip(n: number, what: string): Promise<void>;
  /** Reads and discards everything left (so a hash over the stream completes). */
  drain(): Promise<void>;
  /** Bytes consumed so far. */
  readonly position: number;
}

/**
 * Exact-size reads over an async stream of chunks. The tar reader asks for
 * whole blocks and for bounded slices of entry data, never more than needed,
 * so file contents stream through without being buffered whole.
 */
class StreamSource implements ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  position = 0;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    if (r.value.length > 0) {
      this.chunks.push(r.value);
      this.buffered += r.value.length;
    }
    return true;
  }

  /** Exactly n bytes, or null if the stream ended before the first byte. */
  async readExact(n: number, what: string): Promise<Buffer | null> {
    while (this.buffered < n) {
      if (!(await this.fill())) {
        if (this.buffered === 0) return null;
        throw corruptTar(`unexpected end of archive in ${what}`);
      }
    }
    return this.take(n);
  }

  /** Between 1 and max bytes; the stream must not end first. */
  async readSome(max: number, what: string): Promise<Buffer> {
    while (this.buffered === 0) {
      if (!(await this.fill())) throw corruptTar(`unexpected end of archive in ${what}`);
    }
    return this.take(Math.min(max, this.chunks[0].length));
  }

  async skip(n: number, what: string): Promise<void> {
    while (n > 0) n -= (await this.readSome(n, what)).length;
  }

  /** Reads and discards everything left (so a hash over the stream completes). */
  async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (await this.fill()) {
      this.chunks = [];
      this.buffered = 0;
    }
  }

  private take(n: number): Buffer {
    this.position += n;
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.length >= n) {
      this.buffered -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

/**
 * Positional reads of an archive file: skipping entry data is a seek, so
 * indexing a multi-gigabyte archive reads only its headers.
 */
class FileSource implements ByteSource {
  position = 0;

  constructor(private readonly fh: FileHandle, private readonly size: number) {}

  async readExact(n: number, what: string): Promise<Buffer | null> {
    if (this.position >= this.size && n > 0) return null;
    if (this.position + n > this.size) throw corruptTar(`unexpected end of archive in ${what}`);
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await this.fh.read(buf, 0, n, this.position);
    if (bytesRead !== n) throw corruptTar(`unexpected end of archive in ${what}`);
    this.position += n;
    return buf;
  }

  async readSome(max: number, what: string): Promise<Buffer> {
    const n = Math.min(max, 1 << 20, this.size - this.position);
    if (n <= 0) throw corruptTar(`unexpected end of archive in ${what}`);
    return (await this.readExact(n, what))!;
  }

  async skip(n: number, what: string): Promise<void> {
    if (this.position + n > this.size) throw corruptTar(`unexpected end of archive in ${what}`);
    this.position += n;
  }

  async drain(): Promise<void> {
    this.position = this.size;
  }
}

/**
 * Streaming reader for ustar / PAX / GNU tar archives.
 *
 *   const r = new TarReader(chunks);
 *   for (let h; (h = await r.next()); ) { for await (const b of r.body()) ... }
 *
 * Unread entry data is skipped by the following next(). Anything malformed
 * throws a CORRUPT_TAR user error.
 */
export class TarReader {
  private readonly src: ByteSource;
  private remaining = 0; // unread data bytes of the current entry
  private pad = 0; // padding after the current entry's data
  private globalPax = new Map<string, Buffer>();
  private finished = false;

  /** Where the current entry's data starts, in bytes from the archive's start. */
  dataOffset = 0;

  constructor(chunks: AsyncIterable<Buffer> | ByteSource) {
    this.src = Symbol.asyncIterator in chunks ? new StreamSource(chunks[Symbol.asyncIterator]()) : chunks;
  }

  /** A reader over an open archive file that seeks past entry data it is not asked for. */
  static ofFile(fh: FileHandle, size: number): TarReader {
    return new TarReader(new FileSource(fh, size));
  }

  async next(): Promise<TarHeader | null> {
    if (this.finished) return null;
    await this.src.skip(this.remaining + this.pad, 'entry data');
    this.remaining = 0;
    this.pad = 0;

    let pax: Map<string, Buffer> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await this.src.readExact(BLOCK, 'header');
      // Like Go's archive/tar, an archive that stops cleanly at a header
      // boundary is accepted even without the two terminating zero blocks.
      if (block === null || isZeroBlock(block)) {
        if (pax || longName !== undefined || longLink !== undefined) throw corruptTar('archive ends after an extended header');
        this.finished = true;
        return null;
      }
      const raw = decodeRawHeader(block);
      switch (raw.typeflag) {
        case 'x':
          pax = parsePaxRecords(await this.readMeta(raw, 'PAX header'));
          continue;
        case 'g':
          for (const [k, v] of parsePaxRecords(await this.readMeta(raw, 'PAX global header'))) this.globalPax.set(k, v);
          continue;
        case 'L':
          longName = cString(await this.readMeta(raw, 'GNU long name'));
          continue;
        case 'K':
          longLink = cString(await this.readMeta(raw, 'GNU long link name'));
          continue;
      }
      const records = new Map([...this.globalPax, ...(pax ?? [])]);
      const header = this.applyRecords(raw, records, longName, longLink);
      if (header === null) {
        // Unsupported type (e.g. GNU sparse or volume labels): skip its data.
        await this.src.skip(raw.size + padLen(raw.size), 'entry data');
        pax = undefined;
        longName = longLink = undefined;
        continue;
      }
      this.remaining = header.type === 'file' ? header.size : 0;
      this.pad = padLen(this.remaining);
      this.dataOffset = this.src.position;
      return header;
    }
  }

  /** Data of the current entry; may be consumed partially or not at all. */
  async *body(): AsyncIterable<Buffer> {
    while (this.remaining > 0) {
      const chunk = await this.src.readSome(this.remaining, 'entry data');
      this.remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Consumes whatever follows the end-of-archive marker. */
  async drain(): Promise<void> {
    await this.src.drain();
  }

  private async readMeta(raw: RawHeader, what: string): Promise<Buffer> {
    if (raw.size > MAX_META_SIZE) throw corruptTar(`${what} of ${raw.size} bytes is too large`);
    const data = raw.size === 0 ? Buffer.alloc(0) : (await this.src.readExact(raw.size, what)) ?? Buffer.alloc(0);
    if (data.length !== raw.size) throw corruptTar(`unexpected end of archive in ${what}`);
    await this.src.skip(padLen(raw.size), what);
    return data;
  }

  private applyRecords(
    raw: RawHeader, pax: Map<string, Buffer>, longName?: string, longLink?: string,
  ): TarHeader | null {
    let type = entryType(raw.typeflag);
    if (type === undefined) return null;
    let name = longName ?? raw.name;
    let linkname = longLink ?? raw.linkname;
    let { size, uid, gid, mtime } = raw;
    const xattrs = new Map<string, Buffer>();
    for (const [key, value] of pax) {
      const text = () => value.toString('utf8');
      switch (key) {
        case 'path': name = text(); break;
        case 'linkpath': linkname = text(); break;
        case 'size': size = paxNumber(key, text()); break;
        case 'uid': uid = paxNumber(key, text()); break;
        case 'gid': gid = paxNumber(key, text()); break;
        case 'mtime': mtime = paxTime(text()); break;
        default:
          if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
      }
    }
    // Pre-POSIX archives mark directories only by a trailing slash.
    if (type === 'file' && name.endsWith('/')) type = 'dir';
    return {
      name, type, mode: raw.mode, uid, gid,
      // Links, directories and devices carry no data whatever the size field says.
      size: type === 'file' ? size : 0,
      mtime, linkname, devmajor: raw.devmajor, devminor: raw.devminor, xattrs,
    };
  }
}

function padLen(size: number): number {
  const rem = size % BLOCK;
  return rem === 0 ? 0 : BLOCK - rem;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

function paxNumber(key: string, s: string): number {
  if (!/^[0-9]+$/.test(s)) throw corruptTar(`invalid PAX ${key} ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw corruptTar(`PAX ${key} too large`);
  return n;
}

function paxTime(s: string): number {
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(s)) throw corruptTar(`invalid PAX mtime ${JSON.stringify(s)}`);
  return Number(s);
}
