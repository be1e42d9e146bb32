// Random access to members of a tar archive on disk (docker save / OCI
// archive). We never extract an archive: we index its headers once, then
// read only the members a manifest names, straight from their offsets.
// Member names that manifests ask for are checked first, so a hostile
// manifest (`../../etc/passwd`, `/etc/shadow`) is refused, never followed.

import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ImageError } from './errors.js';

interface Member {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Byte offset of the data in the archive file. */
  offset: number;
  size: number;
  linkname: string;
}

const BLOCK = 512;
const MAX_LINK_HOPS = 8;
/** Metadata members (manifest.json, index.json, configs) are read into memory; cap them. */
export const MAX_METADATA_BYTES = 32 * 1024 * 1024;

function corrupt(archive: string, why: string): ImageError {
  return new ImageError('INVALID_ARCHIVE', `${archive}: not a valid tar archive (${why})`);
}

/** The member name a manifest refers to, normalised; throws on absolute or escaping paths. */
export function safeMemberName(requested: string): string {
  if (typeof requested !== 'string' || requested === '' || requested.includes('\0')) {
    throw new ImageError('UNSAFE_ARCHIVE_PATH', `refusing archive path ${JSON.stringify(requested)}: empty or invalid`);
  }
  const normal = path.posix.normalize(requested);
  if (path.posix.isAbsolute(requested) || normal === '..' || normal.startsWith('../') || requested.split('/').includes('..')) {
    throw new ImageError('UNSAFE_ARCHIVE_PATH', `refusing archive path ${JSON.stringify(requested)}: it points outside the archive`);
  }
  return normal.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

/** Member names as stored may start with `./` or end with `/`; index them by their plain form. */
function indexName(raw: string): string {
  return path.posix.normalize(raw).replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

function cString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function parseNumber(buf: Buffer, start: number, len: number): number {
  // GNU base-256 for values that do not fit in octal (files > 8 GiB).
  if (buf[start]! & 0x80) {
    let value = buf[start]! & 0x7f;
    for (let i = start + 1; i < start + len; i++) value = value * 256 + buf[i]!;
    return value;
  }
  const text = cString(buf, start, len).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = parseNumber(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === stored;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.toString('utf8', pos, space), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.toString('utf8', space + 1, pos + len - 1); // drop trailing '\n'
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

function memberType(flag: string): Member['type'] {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '5':
      return 'directory';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    default:
      return 'other';
  }
}

export class TarArchive {
  private constructor(
    readonly file: string,
    private readonly members: Map<string, Member>,
  ) {}

  /** Read every header of the tar at `file` (an uncompressed tar). */
  static async open(file: string): Promise<TarArchive> {
    const fh = await fs.open(file, 'r');
    const members = new Map<string, Member>();
    try {
      const total = (await fh.stat()).size;
      const header = Buffer.alloc(BLOCK);
      let offset = 0;
      let pax: Record<string, string> = {};
      let longName: string | undefined;
      let longLink: string | undefined;
      while (offset + BLOCK <= total) {
        await fh.read(header, 0, BLOCK, offset);
        if (header.every((b) => b === 0)) break; // end-of-archive marker
        if (!checksumOk(header)) throw corrupt(file, `bad header checksum at offset ${offset}`);
        const flag = String.fromCharCode(header[156]!);
        let size = parseNumber(header, 124, 12);
        const dataOffset = offset + BLOCK;
        if (flag === 'x' || flag === 'L' || flag === 'K') {
          if (size > 1024 * 1024) throw corrupt(file, `oversized extended header at offset ${offset}`);
          const data = Buffer.alloc(size);
          await fh.read(data, 0, size, dataOffset);
          if (flag === 'x') pax = parsePax(data);
          else if (flag === 'L') longName = cString(data, 0, size);
          else longLink = cString(data, 0, size);
        } else if (flag !== 'g') {
          // "ustar\0" (POSIX) has a name prefix field; GNU's "ustar  " uses those bytes for other things.
          const posix = header.toString('latin1', 257, 263) === 'ustar\0';
          const prefix = posix ? cString(header, 345, 155) : '';
          let name = longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
          if (pax['path'] !== undefined) name = pax['path'];
          if (pax['size'] !== undefined) size = Number(pax['size']);
          const linkname = pax['linkpath'] ?? longLink ?? cString(header, 157, 100);
          if (dataOffset + size > total) throw corrupt(file, `member ${JSON.stringify(name)} is truncated`);
          members.set(indexName(name), { name, type: memberType(flag), offset: dataOffset, size, linkname });
          pax = {};
          longName = undefined;
          longLink = undefined;
        }
        offset = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      }
    } finally {
      await fh.close();
    }
    return new TarArchive(file, members);
  }

  has(name: string): boolean {
    try {
      return this.find(name) !== undefined;
    } catch {
      return false;
    }
  }

  /** Follow in-archive links (old `docker save` linked duplicate layers), never leaving the archive. */
  private find(requested: string): Member | undefined {
    let name = safeMemberName(requested);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const m = this.members.get(name);
      if (!m) return undefined;
      if (m.type === 'file') return m;
      if ((m.type === 'symlink' || m.type === 'hardlink') && path.posix.isAbsolute(m.linkname)) {
        throw new ImageError('UNSAFE_ARCHIVE_PATH', `refusing archive link ${JSON.stringify(m.name)} -> ${JSON.stringify(m.linkname)}`);
      }
      if (m.type === 'symlink') name = safeMemberName(path.posix.join(path.posix.dirname(name), m.linkname));
      else if (m.type === 'hardlink') name = safeMemberName(m.linkname);
      else throw new ImageError('INVALID_ARCHIVE', `${this.file}: ${requested} is not a regular file`);
    }
    throw new ImageError('INVALID_ARCHIVE', `${this.file}: too many links resolving ${requested}`);
  }

  private get(requested: string): Member {
    const m = this.find(requested);
    if (!m) throw new ImageError('INVALID_ARCHIVE', `${this.file}: missing member ${requested}`);
    return m;
  }

  size(name: string): number {
    return this.get(name).size;
  }

  async readBuffer(name: string, maxBytes = MAX_METADATA_BYTES): Promise<Buffer> {
    const m = this.get(name);
    if (m.size > maxBytes) throw new ImageError('INVALID_ARCHIVE', `${this.file}: ${name} is too large (${m.size} bytes)`);
    const buf = Buffer.alloc(m.size);
    const fh = await fs.open(this.file, 'r');
    try {
      await fh.read(buf, 0, m.size, m.offset);
    } finally {
      await fh.close();
    }
    return buf;
  }

  /** The first bytes of a member, to sniff its compression. */
  async head(name: string, bytes = 8): Promise<Buffer> {
    const m = this.get(name);
    const buf = Buffer.alloc(Math.min(bytes, m.size));
    const fh = await fs.open(this.file, 'r');
    try {
      await fh.read(buf, 0, buf.length, m.offset);
    } finally {
      await fh.close();
    }
    return buf;
  }

  openRead(name: string): Readable {
    const m = this.get(name);
    if (m.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1 << 20 });
  }
}
