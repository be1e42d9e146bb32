/**
 * Recognising and opening local tar archives for ADD. As in BuildKit the
 * format is detected from the CONTENT (compression magic, then a valid tar
 * header), never from the file name. Node only speaks gzip, so bzip2, xz and
 * zstd go through the system tools, streaming.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createGunzip } from '../../cache/lazy-zlib.js';
import { PassThrough, type Readable } from 'node:stream';
import { ArchiveError } from './errors.js';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

const TOOLS: Record<'bzip2' | 'xz' | 'zstd', string> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

export function detectCompression(head: Uint8Array): Compression {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b, 0x08)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2'; // "BZh"
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  return 'none';
}

async function readHead(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A stream of the decompressed bytes of `file`. Errors (corrupt data) surface on the stream. */
export function openDecompressed(file: string, compression: Compression): Readable {
  const raw = createReadStream(file);
  if (compression === 'none') return raw;
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    return raw.pipe(gunzip);
  }
  const tool = TOOLS[compression];
  const child = spawn(tool, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  raw.on('error', (err) => out.destroy(err));
  child.on('error', (err) => out.destroy(new ArchiveError('DECOMPRESS_FAILED', `cannot run ${tool}: ${err.message}`)));
  // The consumer may stop early (detection reads one block): then EPIPE is expected.
  child.stdin.on('error', () => undefined);
  raw.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) {
      out.destroy(new ArchiveError('DECOMPRESS_FAILED', `${tool} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n')[0] ?? ''}`));
    }
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
    raw.destroy();
  });
  return out;
}

/** Read the first `n` bytes of a stream (fewer if it ends), then close it. */
async function readPrefix(stream: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= n) break;
    }
  } catch {
    // Corrupt compressed data: whatever we got decides.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** A 512-byte block that is a tar header: not all zeros and a valid checksum. */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  let sum = 0;
  let allZero = true;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (block[i] !== 0) allZero = false;
    sum += b;
  }
  if (allZero) return false;
  const field = Buffer.from(block.subarray(148, 156)).toString('latin1').replace(/[\0 ]+$/g, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  return parseInt(field, 8) === sum;
}

/** Is this regular file a (possibly compressed) tar archive? Returns its compression, or null. */
export async function detectTarArchive(file: string): Promise<Compression | null> {
  const head = await readHead(file, 8);
  if (head.length === 0) return null;
  const compression = detectCompression(head);
  const block = await readPrefix(openDecompressed(file, compression), 512);
  return isTarHeader(block) ? compression : null;
}
