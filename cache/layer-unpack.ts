import { createHash } from '../runner-native/native-crypto.js';
import * as fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from './lazy-zlib.js';
import { type Digest, digestFromHex } from './digest.js';
import { CacheError, corruptTar } from './errors.js';
import { LayerApplier } from './tar-entry-applier.js';
import { TarReader } from './tar-reader.js';
import type { TarType } from './tar-format.js';

export interface ApplyLayerOptions {
  /**
   * Unpack for use as an overlayfs lowerdir of its own: whiteouts become
   * 0/0 character devices and opaque markers the `trusted.overlay.opaque=y`
   * xattr, instead of deleting lower content from destDir.
   */
  overlayWhiteouts?: boolean;
  /**
   * Overlay mode only: the layer directories below this one, topmost first.
   * Used to copy up hard-link targets that live in a lower layer and to give
   * implicitly created parent directories the metadata they have below.
   */
  lowerDirs?: string[];
  /** chown to the tar's numeric ids and create device nodes. Default: running as root. */
  sameOwner?: boolean;
  /**
   * Receives every entry's name, type and link target as read, so that a
   * caller who must also judge the layer's entries (a pull checks the whole
   * image before tagging it) needs no second pass over the blob.
   */
  entries?: TarEntryName[];
}

/** What a whole-image check needs of one tar entry. */
export interface TarEntryName {
  name: string;
  type: TarType;
  linkname: string;
}

export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: Digest;
  /** Bytes of the uncompressed tar stream. */
  size: number;
  compression: 'gzip' | 'none';
  entries: number;
  /** Device nodes skipped because we are not root. */
  skippedDevices: number;
}

/**
 * Unpacks a layer tar (uncompressed or gzip, sniffed from its first bytes)
 * into destDir, honouring whiteouts, and returns its diffId computed while
 * streaming. No entry can write outside destDir: see safe-path.ts.
 * On error destDir is left partially written; callers unpack into a temp
 * directory and rename it into place once this resolves.
 */
export async function applyLayer(
  tar: NodeJS.ReadableStream | AsyncIterable<Buffer>,
  destDir: string,
  opts: ApplyLayerOptions = {},
): Promise<ApplyLayerResult> {
  await fsp.mkdir(destDir, { recursive: true });
  const root = await fsp.realpath(destDir);
  const freshDir = (await fsp.readdir(root)).length === 0;
  const source = (tar as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const cleanups: (() => void)[] = [() => void source.return?.()];
  try {
    const head = await readHead(source, 6);
    const compression = sniffCompression(head);
    let uncompressed: AsyncIterable<Buffer> = prepend(head, source);
    if (compression === 'gzip') {
      const gunzip = createGunzip({ chunkSize: 128 * 1024 });
      pipeline(Readable.from(uncompressed), gunzip).catch(() => { /* surfaces through the iterator */ });
      cleanups.push(() => gunzip.destroy());
      uncompressed = gzipErrorsAsCorrupt(gunzip);
    }
    const hash = createHash('sha256');
    let size = 0;
    const reader = new TarReader(tap(uncompressed, (b) => {
      hash.update(b);
      size += b.length;
    }));
    const applier = new LayerApplier(root, {
      overlayWhiteouts: opts.overlayWhiteouts ?? false,
      lowerDirs: opts.lowerDirs ?? [],
      sameOwner: opts.sameOwner ?? process.getuid?.() === 0,
      freshDir,
    });
    let entries = 0;
    try {
      const seen = opts.entries;
      for (let h; (h = await reader.next()); entries++) {
        seen?.push({ name: h.name, type: h.type, linkname: h.linkname });
        await applier.apply(h, reader.body());
      }
      // The diffId covers the whole stream, including padding after the end marker.
      await reader.drain();
      await applier.finish();
    } catch (err) {
      // The caller removes destDir next: no file may still be in the making.
      await applier.settle();
      throw err;
    }
    return {
      diffId: digestFromHex(hash.digest('hex')), size, compression, entries,
      skippedDevices: applier.skippedDevices,
    };
  } finally {
    for (const c of cleanups) c();
  }
}

type Compression = 'gzip' | 'none';

function sniffCompression(head: Buffer): Compression {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) throw unsupported('zstd');
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) throw unsupported('xz');
  if (starts(0x42, 0x5a, 0x68)) throw unsupported('bzip2');
  return 'none';
}

function unsupported(kind: string): CacheError {
  return new CacheError('UNSUPPORTED_COMPRESSION', `${kind}-compressed layers are not supported (only gzip or uncompressed tar)`);
}

async function readHead(it: AsyncIterator<Buffer | string>, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) break;
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    parts.push(b);
    len += b.length;
  }
  return Buffer.concat(parts);
}

async function* prepend(head: Buffer, rest: AsyncIterator<Buffer | string>): AsyncIterable<Buffer> {
  if (head.length > 0) yield head;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
  }
}

async function* tap(src: AsyncIterable<Buffer>, see: (b: Buffer) => void): AsyncIterable<Buffer> {
  for await (const b of src) {
    see(b);
    yield b;
  }
}

async function* gzipErrorsAsCorrupt(gunzip: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  try {
    yield* gunzip;
  } catch (e) {
    const code = String((e as NodeJS.ErrnoException).code ?? '');
    if (code.startsWith('Z_')) throw corruptTar(`gzip: ${(e as Error).message}`);
    throw e;
  }
}
