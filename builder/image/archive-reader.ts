// Random access to members of a tar archive on disk (docker save / OCI
// archive). We never extract an archive: we index its headers once, then
// read only the members a manifest names, straight from their offsets.
// Member names that manifests ask for are checked first, so a hostile
// manifest (`../../etc/passwd`, `/etc/shadow`) is refused, never followed.

import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { TarReader } from '../../cache/tar-reader.js';
import type { TarType } from '../../cache/tar-format.js';
import { ImageError } from './errors.js';

interface Member {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Byte offset of the data in the archive file. */
  offset: number;
  size: number;
  linkname: string;
}

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

function memberType(type: TarType): Member['type'] {
  switch (type) {
    case 'file': return 'file';
    case 'dir': return 'directory';
    case 'symlink': return 'symlink';
    case 'link': return 'hardlink';
    default: return 'other';
  }
}

export class TarArchive {
  private constructor(
    readonly file: string,
    private readonly members: Map<string, Member>,
  ) {}

  /** Read every header of the tar at `file` (an uncompressed tar), with the project's one tar reader. */
  static async open(file: string): Promise<TarArchive> {
    const fh = await fs.open(file, 'r');
    const members = new Map<string, Member>();
    try {
      const reader = TarReader.ofFile(fh, (await fh.stat()).size);
      for (let h; (h = await reader.next()); ) {
        members.set(indexName(h.name), { name: h.name, type: memberType(h.type), offset: reader.dataOffset, size: h.size, linkname: h.linkname });
      }
    } catch (e) {
      if ((e as { code?: string }).code === 'CORRUPT_TAR') throw corrupt(file, (e as Error).message);
      throw e;
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
