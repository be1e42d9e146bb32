/**
 * ADD <http(s) URL>: download into a scratch directory the way BuildKit's
 * HTTP source does: the file is named after the last URL path segment
 * (`__unnamed__` when there is none), gets mode 0600, and the Last-Modified
 * header (when present) as mtime. `--checksum=sha256:<hex>` is verified
 * over the downloaded bytes.
 */
import { createWriteStream } from 'node:fs';
import { chmod, utimes } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashingTap } from '../../cache/hashing-tap.js';
// The HTTP client (with http, https and tls) loads on the first download:
// every build reaches this module, few download anything.
import type { HttpResponse } from '../registry/http.js';
import { DownloadError } from './errors.js';

export interface DownloadedFile {
  readonly name: string;
  readonly hostPath: string;
  readonly size: number;
  readonly digest: string;
}

export interface DownloadOptions {
  readonly checksum?: string;
  readonly signal?: AbortSignal;
}

export function isHttpUrl(src: string): boolean {
  return src.startsWith('http://') || src.startsWith('https://');
}

/** The file name BuildKit gives a URL download. */
export function urlFileName(url: string): string {
  try {
    const base = path.posix.basename(new URL(url).pathname);
    if (base !== '' && base !== '.' && base !== '..' && base !== '/') return decodeURIComponent(base).replace(/\//g, '_');
  } catch {
    // fall through: unparsable URLs get the default name
  }
  return '__unnamed__';
}

/** `sha256:<64 hex>` → hex, or a user error. */
export function parseChecksum(checksum: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(checksum);
  if (!m) throw new DownloadError('INVALID_CHECKSUM', `invalid checksum ${JSON.stringify(checksum)}: expected sha256:<64 hex digits>`);
  return m[1]!;
}

export async function downloadUrl(url: string, dir: string, options: DownloadOptions = {}): Promise<DownloadedFile> {
  const expected = options.checksum === undefined ? undefined : parseChecksum(options.checksum);
  const { header, send } = await import('../registry/http.js');
  let response: HttpResponse;
  try {
    response = await send({ method: 'GET', url: new URL(url), signal: options.signal });
  } catch (err) {
    throw new DownloadError('URL_FETCH_FAILED', `failed to download ${url}: ${(err as Error).message}`);
  }
  if (response.status < 200 || response.status > 299) {
    response.body.resume();
    throw new DownloadError('URL_FETCH_FAILED', `failed to download ${url}: HTTP ${response.status} ${response.body.statusMessage ?? ''}`.trimEnd());
  }
  const name = urlFileName(url);
  const hostPath = path.join(dir, name);
  const tap = new HashingTap();
  try {
    await pipeline(response.body, tap, createWriteStream(hostPath, { mode: 0o600 }));
  } catch (err) {
    throw new DownloadError('URL_FETCH_FAILED', `failed to download ${url}: ${(err as Error).message}`);
  }
  const digest = tap.hex();
  if (expected !== undefined && digest !== expected) {
    throw new DownloadError('CHECKSUM_MISMATCH', `checksum mismatch for ${url}: expected sha256:${expected}, got sha256:${digest}`);
  }
  await chmod(hostPath, 0o600);
  const lastModified = header(response, 'last-modified');
  const mtime = lastModified ? new Date(lastModified) : null;
  if (mtime && !Number.isNaN(mtime.getTime())) await utimes(hostPath, mtime, mtime);
  return { name, hostPath, size: tap.size, digest: `sha256:${digest}` };
}
