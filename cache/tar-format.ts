/**
 * The bytes of a POSIX (ustar + PAX) tar header, both directions.
 *
 * We encode and decode headers ourselves instead of going through
 * tar-stream because tar-stream 3 turns PAX values into UTF-8 strings, which
 * corrupts binary xattrs such as `security.capability`, and its reader
 * ignores PAX uid/gid/mtime. Keeping the format in one small file also pins
 * the exact bytes we emit, which reproducible layer digests depend on.
 */
import { corruptTar } from './errors.js';

export const BLOCK = 512;

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** A decoded entry header with PAX / GNU long-name records already applied. */
export interface TarHeader {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (PAX may carry a fraction). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records, values as raw bytes. */
  xattrs: Map<string, Buffer>;
}

/** What a writer supplies; omitted fields default to 0 / ''. */
export interface TarHeaderInput {
  name: string;
  type: TarType;
  mode: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: ReadonlyMap<string, Buffer>;
}

const TYPEFLAG: Record<TarType, string> = {
  file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

// ---------------------------------------------------------------- encoding

/**
 * Encodes one entry as header block(s): a PAX extended header first when a
 * value does not fit ustar (long or non-ASCII names, big numbers, xattrs).
 * Directory names get their trailing '/'.
 */
export function encodeHeader(h: TarHeaderInput): Buffer {
  const { fields, pax, name } = prepareHeader(h);
  const main = Buffer.allocUnsafe(BLOCK);
  writeUstar(main, 0, fields);
  if (pax.length === 0) return main;

  const body = encodePaxRecords(pax);
  const base = name.replace(/\/$/, '').split('/').pop() ?? '';
  const paxHeader = Buffer.allocUnsafe(BLOCK);
  writeUstar(paxHeader, 0, {
    name: asciiFallback('PaxHeaders/' + base, false),
    mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0,
    typeflag: 'x', linkname: '', devmajor: 0, devminor: 0,
  });
  return Buffer.concat([paxHeader, body, padding(body.length), main]);
}

/**
 * The common case of encodeHeader without allocating: when the entry needs
 * no PAX header, writes its single block into `target` at `offset` and
 * returns BLOCK; otherwise writes nothing and returns 0 (use encodeHeader).
 * The bytes are exactly encodeHeader's.
 */
export function encodeHeaderInto(h: TarHeaderInput, target: Buffer, offset: number): number {
  const { fields, pax } = prepareHeader(h);
  if (pax.length > 0) return 0;
  writeUstar(target, offset, fields);
  return BLOCK;
}

/**
 * Whether a regular file's header, with no xattrs, is one ustar block
 * (encodeHeaderInto writes it): its name, ids, size and whole-second mtime
 * all fit the ustar fields. Nothing is encoded: a re-run asks this of each
 * entry it takes whole from its previous layer (cache/previous-ranges.ts).
 */
export function fileHeaderFitsOneBlock(name: string, uid: number, gid: number, size: number, mtime: number): boolean {
  return fitsOctal(uid, 8) && fitsOctal(gid, 8) && fitsOctal(size, 12) && fitsOctal(Math.floor(mtime), 12) && fitsUstarString(name, 100);
}

function prepareHeader(h: TarHeaderInput): { fields: RawFields; pax: [string, Buffer][]; name: string } {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? h.name + '/' : h.name;
  const linkname = h.linkname ?? '';
  const size = h.type === 'file' ? h.size ?? 0 : 0;
  const uid = h.uid ?? 0;
  const gid = h.gid ?? 0;
  const mtime = Math.floor(h.mtime);
  const pax: [string, Buffer][] = [];
  const nameFits = fitsUstarString(name, 100);
  const linkFits = fitsUstarString(linkname, 100);
  const mtimeFits = fitsOctal(mtime, 12);

  if (!nameFits) pax.push(['path', Buffer.from(name)]);
  if (!linkFits) pax.push(['linkpath', Buffer.from(linkname)]);
  if (!fitsOctal(uid, 8)) pax.push(['uid', Buffer.from(String(uid))]);
  if (!fitsOctal(gid, 8)) pax.push(['gid', Buffer.from(String(gid))]);
  if (!fitsOctal(size, 12)) pax.push(['size', Buffer.from(String(size))]);
  if (!mtimeFits) pax.push(['mtime', Buffer.from(String(mtime))]);
  if (h.xattrs) {
    for (const key of [...h.xattrs.keys()].sort()) pax.push([`SCHILY.xattr.${key}`, h.xattrs.get(key)!]);
  }

  const fields: RawFields = {
    name: nameFits ? name : asciiFallback(name, h.type === 'dir'),
    mode: h.mode & 0o7777,
    uid, gid, size,
    mtime: mtimeFits ? mtime : 0,
    typeflag: TYPEFLAG[h.type],
    linkname: linkFits ? linkname : asciiFallback(linkname, false),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  };
  return { fields, pax, name };
}

/**
 * The header layout of the image archives tsbuild has always exported
 * (`save`, `-o type=docker|oci`): numbers as space-terminated octal, long
 * names split into the ustar prefix, no PAX. Kept byte for byte so that an
 * exported archive's digest never changes; layers use encodeHeader. Names
 * that cannot be split fall back to encodeHeader's PAX records.
 */
export function encodeArchiveHeader(h: TarHeaderInput): Buffer {
  let name = h.type === 'dir' && !h.name.endsWith('/') ? h.name + '/' : h.name;
  const linkname = h.linkname ?? '';
  let prefix = '';
  const ascii = /^[\x00-\x7f]*$/;
  if (!ascii.test(name) || linkname.length > 100 || !ascii.test(linkname)) return encodeHeader(h);
  while (name.length > 100) {
    const slash = name.indexOf('/');
    if (slash < 0) return encodeHeader(h);
    prefix += prefix ? '/' + name.slice(0, slash) : name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  if (prefix.length > 155) return encodeHeader(h);
  const b = Buffer.alloc(BLOCK);
  const spaceOctal = (off: number, digits: number, n: number) => {
    const text = n.toString(8);
    b.write(text.length > digits ? '7'.repeat(digits) + ' ' : text.padStart(digits, '0') + ' ', off, 'latin1');
  };
  b.write(name, 0, 'latin1');
  spaceOctal(100, 6, h.mode & 0o7777);
  spaceOctal(108, 6, h.uid ?? 0);
  spaceOctal(116, 6, h.gid ?? 0);
  const size = h.type === 'file' ? h.size ?? 0 : 0;
  if (size.toString(8).length > 11) {
    let v = size;
    b[124] = 0x80;
    for (let i = 11; i > 0; i--) {
      b[124 + i] = v % 256;
      v = Math.floor(v / 256);
    }
  } else {
    spaceOctal(124, 11, size);
  }
  spaceOctal(136, 11, Math.floor(h.mtime) | 0);
  b[156] = TYPEFLAG[h.type].charCodeAt(0);
  if (linkname) b.write(linkname, 157, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  spaceOctal(329, 6, h.devmajor ?? 0);
  spaceOctal(337, 6, h.devminor ?? 0);
  if (prefix) b.write(prefix, 345, 'latin1');
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < BLOCK; i++) sum += b[i]!;
  spaceOctal(148, 6, sum);
  return b;
}

/** How many zero bytes bring `size` bytes of data up to a block boundary. */
export function padLength(size: number): number {
  const rem = size % BLOCK;
  return rem === 0 ? 0 : BLOCK - rem;
}

/** The zero bytes that bring `size` bytes of data up to a block boundary. */
export function padding(size: number): Buffer {
  const rem = size % BLOCK;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rem);
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

interface RawFields {
  name: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: string; linkname: string; devmajor: number; devminor: number;
}

/** Writes one whole header block (every byte of it) at b[off, off + BLOCK). */
function writeUstar(b: Buffer, off: number, f: RawFields): void {
  b.fill(0, off, off + BLOCK);
  b.write(f.name, off, 100, 'utf8');
  writeOctal(b, off + 100, 8, f.mode);
  writeNumber(b, off + 108, 8, f.uid);
  writeNumber(b, off + 116, 8, f.gid);
  writeNumber(b, off + 124, 12, f.size);
  writeOctal(b, off + 136, 12, f.mtime);
  b[off + 156] = f.typeflag.charCodeAt(0);
  b.write(f.linkname, off + 157, 100, 'utf8');
  b.write('ustar\x0000', off + 257, 8, 'ascii');
  // uname/gname stay empty: layers carry numeric ids only.
  writeOctal(b, off + 329, 8, f.devmajor);
  writeOctal(b, off + 337, 8, f.devminor);
  b.fill(0x20, off + 148, off + 156);
  writeOctal(b, off + 148, 8, checksum(b, off));
}

function fitsUstarString(s: string, max: number): boolean {
  return s.length <= max && /^[\x01-\x7f]*$/.test(s);
}

/** Placeholder name for the ustar field when the real one lives in PAX. */
function asciiFallback(s: string, dir: boolean): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '_');
  const max = dir ? 99 : 100;
  const cut = ascii.length > max ? ascii.slice(0, max) : ascii;
  return dir && !cut.endsWith('/') ? cut + '/' : cut;
}

// 8 ** (width - 1) for each field width, computed once rather than per field.
const OCTAL_LIMIT = Array.from({ length: 13 }, (_, width) => 8 ** Math.max(width - 1, 0));

function fitsOctal(n: number, width: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < (OCTAL_LIMIT[width] ?? 8 ** (width - 1));
}

/** Zero-padded octal digits and a NUL (all zeros when n does not fit); digit by digit, no string. */
function writeOctal(b: Buffer, off: number, width: number, n: number): void {
  let v = fitsOctal(n, width) ? n : 0;
  if (v <= 0x7fffffff) {
    // Small integers (all but sizes of 2 GiB and more) by shifts: the
    // floating point division below cost more than the rest of a header.
    for (let i = off + width - 2; i >= off; i--) {
      b[i] = 0x30 + (v & 7);
      v >>>= 3;
    }
    b[off + width - 1] = 0;
    return;
  }
  for (let i = off + width - 2; i >= off; i--) {
    b[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  b[off + width - 1] = 0;
}

/** Octal when it fits, else GNU base-256 (PAX carries the value as well). */
function writeNumber(b: Buffer, off: number, width: number, n: number): void {
  if (fitsOctal(n, width)) return writeOctal(b, off, width, n);
  let v = BigInt(n);
  for (let i = width - 1; i > 0; i--) {
    b[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[off] = 0x80;
}

function encodePaxRecords(records: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
    // The length prefix counts its own digits.
    let len = rest.length + 1;
    while (String(len).length + rest.length > len) len++;
    parts.push(Buffer.from(String(len)), rest);
  }
  return Buffer.concat(parts);
}

/** Sum of the block's bytes with the checksum field counted as spaces. */
function checksum(b: Buffer, off: number): number {
  let sum = 8 * 0x20;
  for (let i = off; i < off + 148; i++) sum += b[i]!;
  for (let i = off + 156; i < off + BLOCK; i++) sum += b[i]!;
  return sum;
}

// ---------------------------------------------------------------- decoding

/** A raw header block before long-name/PAX records are applied. */
export interface RawHeader {
  typeflag: string;
  name: string;
  mode: number; uid: number; gid: number; size: number; mtime: number;
  linkname: string; devmajor: number; devminor: number;
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

export function decodeRawHeader(b: Buffer): RawHeader {
  const stored = parseNumber(b, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i];
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  if (stored !== unsigned && stored !== signed) throw corruptTar('header checksum mismatch (is this really a tar archive?)');

  const ustar = b.toString('latin1', 257, 263) === 'ustar\0';
  let name = cString(b, 0, 100);
  if (ustar) {
    const prefix = cString(b, 345, 155);
    if (prefix) name = prefix + '/' + name;
  }
  return {
    typeflag: b[156] === 0 ? '0' : String.fromCharCode(b[156]),
    name,
    mode: parseNumber(b, 100, 8, 'mode'),
    uid: parseNumber(b, 108, 8, 'uid'),
    gid: parseNumber(b, 116, 8, 'gid'),
    size: parseNumber(b, 124, 12, 'size'),
    mtime: parseNumber(b, 136, 12, 'mtime'),
    linkname: cString(b, 157, 100),
    devmajor: parseNumber(b, 329, 8, 'devmajor'),
    devminor: parseNumber(b, 337, 8, 'devminor'),
  };
}

function cString(b: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

function parseNumber(b: Buffer, off: number, len: number, field: string): number {
  if (b[off] & 0x80) {
    // GNU base-256; 0xff marks a negative number, which no field we use allows.
    if (b[off] === 0xff) throw corruptTar(`negative ${field} in header`);
    let v = BigInt(b[off] & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(b[off + i]);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corruptTar(`${field} too large in header`);
    return Number(v);
  }
  const s = b.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw corruptTar(`invalid ${field} field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

/** Parses `<len> <key>=<value>\n` records; values stay raw bytes. */
export function parsePaxRecords(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break; // some writers pad the body with NULs
    const space = buf.indexOf(0x20, pos);
    if (space < 0) throw corruptTar('malformed PAX record');
    const lenText = buf.toString('latin1', pos, space);
    const len = /^[0-9]+$/.test(lenText) ? parseInt(lenText, 10) : NaN;
    if (!(len > space - pos + 1) || pos + len > buf.length || buf[pos + len - 1] !== 0x0a) {
      throw corruptTar('malformed PAX record length');
    }
    const rec = buf.subarray(space + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw corruptTar('malformed PAX record (no key)');
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

/** The entry type for a typeflag, or undefined for meta / unsupported ones. */
export function entryType(typeflag: string): TarType | undefined {
  switch (typeflag) {
    case '0': case '7': return 'file';
    case '1': return 'link';
    case '2': return 'symlink';
    case '3': return 'char';
    case '4': return 'block';
    case '5': return 'dir';
    case '6': return 'fifo';
    default: return undefined;
  }
}
