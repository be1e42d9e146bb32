// Blob uploads: HEAD first (the registry may have it), then a
// cross-repository mount when we know another repository of the same
// registry holds it, else an upload session: one PUT with the whole blob
// (monolithic) for blobs up to `chunkSize`, PATCH chunks with Content-Range
// for bigger ones. A chunk that fails asks the session where the registry
// got to and continues from there; a session the registry no longer
// accepts starts the blob over.

import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContentStore } from '../../cache/content-store.js';
import type { RegistryClient } from './client.js';
import type { BlobRef } from './download.js';
import { RegistryError, TransientError } from './errors.js';
import { discard, header, type HttpResponse, type RequestBody } from './http.js';
import { badDigest } from './manifest.js';
import { isTransient, withRetry, type RetryOptions } from './retry.js';

export type UploadOutcome = 'exists' | 'mounted' | 'uploaded';

export interface UploadOptions {
  /** Repositories of the same registry believed to hold the blob. */
  mountFrom?: string[];
  /** Blobs larger than this go up in PATCH chunks of this size; default 16 MiB. */
  chunkSize?: number;
  onBytes?: (bytes: number) => void;
  retry?: RetryOptions;
}

const DEFAULT_CHUNK = 16 << 20;
const MIN_CHUNK = 4096;
const MAX_MOUNT_TRIES = 2;

function fileRange(store: ContentStore, blob: BlobRef, start: number, end: number): RequestBody {
  if (end <= start) return Buffer.alloc(0);
  return { length: end - start, open: () => createReadStream(store.path(blob.digest), { start, end: end - 1 }) };
}

function withDigest(url: URL, blob: BlobRef): URL {
  const next = new URL(url);
  next.searchParams.set('digest', blob.digest);
  return next;
}

export async function uploadBlob(client: RegistryClient, store: ContentStore, blob: BlobRef, opts: UploadOptions = {}): Promise<UploadOutcome> {
  const head = await client.request('HEAD', `blobs/${blob.digest}`, { ok: [200, 404] });
  await discard(head);
  if (head.status === 200) return 'exists';

  let session: URL | undefined;
  for (const from of (opts.mountFrom ?? []).slice(0, MAX_MOUNT_TRIES)) {
    const res = await client.request('POST', `blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`, { ok: [201, 202] });
    await discard(res);
    if (res.status === 201) return 'mounted';
    // 202: the registry could not mount and opened an upload session instead; use it.
    session = client.resolveLocation(header(res, 'location'), res);
  }

  // Tiny chunks would make the empty-session Range answer ("0-0") ambiguous; see uploadedBytes.
  const chunkSize = Math.max(MIN_CHUNK, opts.chunkSize ?? DEFAULT_CHUNK);
  try {
    await withRetry(async () => {
      let url = session;
      session = undefined; // a failed session is not reused
      if (!url) {
        const res = await client.request('POST', 'blobs/uploads/', { ok: [202] });
        await discard(res);
        url = client.resolveLocation(header(res, 'location'), res);
      }
      const done = blob.size > chunkSize ? await chunked(client, store, blob, url, chunkSize, opts) : await monolithic(client, store, blob, url, opts);
      await discard(done);
      const claimed = header(done, 'docker-content-digest');
      if (claimed && claimed !== blob.digest) throw badDigest(client, `blob ${blob.digest} back`, blob.digest, claimed);
    }, opts.retry);
  } catch (e) {
    throw client.describe(e);
  }
  return 'uploaded';
}

async function monolithic(client: RegistryClient, store: ContentStore, blob: BlobRef, url: URL, opts: UploadOptions): Promise<HttpResponse> {
  const res = await client.request('PUT', withDigest(url, blob), {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: fileRange(store, blob, 0, blob.size),
    ok: [201],
    retry: false,
  });
  opts.onBytes?.(blob.size);
  return res;
}

/**
 * Registries answer `Range: 0-<last byte>`. An empty session is "0-0" in
 * distribution (ambiguous with one byte; a session holding exactly one byte
 * cannot happen with our chunk sizes, so it means empty), "0--1" elsewhere.
 */
function uploadedBytes(res: HttpResponse): number | undefined {
  const m = /^(?:bytes=)?0-(-?\d+)$/.exec(header(res, 'range') ?? '');
  if (!m) return undefined;
  const last = Number(m[1]);
  return last <= 0 ? 0 : last + 1;
}

async function chunked(client: RegistryClient, store: ContentStore, blob: BlobRef, start: URL, chunkSize: number, opts: UploadOptions): Promise<HttpResponse> {
  let url = start;
  let offset = 0;
  let failures = 0;
  for (;;) {
    try {
      if (offset >= blob.size) {
        // The closing PUT: no body, the digest names what the session holds.
        return await client.request('PUT', withDigest(url, blob), { body: Buffer.alloc(0), ok: [201], retry: false });
      }
      const end = Math.min(blob.size, offset + chunkSize);
      const res = await client.request('PATCH', url, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end - 1}` },
        body: fileRange(store, blob, offset, end),
        ok: [202],
        retry: false,
      });
      await discard(res);
      url = client.resolveLocation(header(res, 'location'), res);
      const reached = uploadedBytes(res) ?? end;
      opts.onBytes?.(reached - offset);
      offset = reached;
      failures = 0;
    } catch (e) {
      if (!isTransient(e) || ++failures > 5) throw e;
      await sleep(Math.min(opts.retry?.maxDelayMs ?? 2000, (opts.retry?.baseDelayMs ?? 50) * 2 ** failures));
      if (offset >= blob.size) {
        // The closing PUT may have landed with only its answer lost; else send it again.
        const head = await client.request('HEAD', `blobs/${blob.digest}`, { ok: [200, 404] });
        await discard(head);
        // A HEAD answer stands in for the lost 201 (it carries Docker-Content-Digest the same way).
        if (head.status === 200) return head;
        continue;
      }
      const resumed = await uploadStatus(client, url);
      opts.onBytes?.(resumed.offset - offset);
      ({ url, offset } = resumed);
    }
  }
}

/** Where an upload session stands; a session the registry lost restarts the whole blob. */
async function uploadStatus(client: RegistryClient, url: URL): Promise<{ url: URL; offset: number }> {
  let res: HttpResponse;
  try {
    res = await client.request('GET', url, { ok: [204] });
  } catch (e) {
    if (e instanceof RegistryError) throw new TransientError(`upload session lost (${e.message})`, undefined, { cause: e });
    throw e;
  }
  await discard(res);
  const offset = uploadedBytes(res);
  if (offset === undefined) throw new TransientError('upload status without a Range header');
  return { url: client.resolveLocation(header(res, 'location') ?? url.href, res), offset };
}
