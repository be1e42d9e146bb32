// Blob downloads into the content store. The body goes to a temp file of
// the store; when the connection drops, the next try asks for the rest with
// `Range: bytes=<have>-` and keeps what it has if the registry answers 206
// from exactly there (else it starts over). The bytes are hashed as they
// are written, in order, so the finished file is verified against the
// digest without reading it back, then fsynced and moved in
// (`ContentStore.adoptFile`).
// A transfer that trickles is cut and resumed, and fails after a few tries
// without progress (stall.ts).
// Concurrent downloads of one blob into one store in this process share a
// single transfer.

import { createHash } from '../../runner-native/native-crypto.js';
import { promises as fs } from 'node:fs';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import type { RegistryClient } from './client.js';
import { RegistryError, TransientError } from './errors.js';
import { discard, header, type HttpResponse } from './http.js';
import { badDigest } from './manifest.js';
import { isTransient, withRetry, type RetryOptions } from './retry.js';
import { DEFAULT_STALL_LIMITS, StallWatch, type StallLimits } from './stall.js';
import { BlobTail } from './blob-tail.js';
import { digestFromHex } from '../../cache/digest.js';
import { CacheError } from '../../cache/errors.js';

export interface BlobRef {
  digest: Digest;
  size: number;
}

export interface DownloadOptions {
  onBytes?: (bytes: number) => void;
  retry?: RetryOptions;
  /** Default: DEFAULT_STALL_LIMITS. */
  stall?: StallLimits;
  /**
   * Called when this call downloads the blob (not when the store has it),
   * with a reader of its bytes as they arrive (see blob-tail.ts).
   */
  onTail?: (tail: BlobTail) => void;
}

const inflight = new Map<string, Promise<boolean>>();

/** Store the blob unless present; returns whether it had to be downloaded. */
export async function downloadBlob(
  client: RegistryClient,
  store: ContentStore,
  blob: BlobRef,
  opts: DownloadOptions = {},
): Promise<boolean> {
  const key = `${store.root}\0${blob.digest}`;
  const running = inflight.get(key);
  if (running) {
    await running;
    return false;
  }
  // Registered before the first await, so a concurrent caller for the same
  // blob always finds it and waits instead of downloading it again.
  const transfer = (async () => {
    if (await store.has(blob.digest)) return false;
    await transferBlob(client, store, blob, opts);
    return true;
  })().finally(() => inflight.delete(key));
  inflight.set(key, transfer);
  return transfer;
}

async function transferBlob(
  client: RegistryClient,
  store: ContentStore,
  blob: BlobRef,
  opts: DownloadOptions,
): Promise<void> {
  let tail: BlobTail | undefined;
  try {
    await transferVerified(client, store, blob, opts, (t) => {
      tail = t;
      opts.onTail?.(t);
    });
    tail?.verified();
  } catch (e) {
    tail?.fail(e as Error);
    throw e;
  }
}

async function transferVerified(
  client: RegistryClient,
  store: ContentStore,
  blob: BlobRef,
  opts: DownloadOptions,
  onTail: (tail: BlobTail) => void,
): Promise<void> {
  // A resumed transfer that fails verification gets one clean retry: the
  // registry may have served the range of a different representation.
  for (let pass = 1; ; pass++) {
    // Only the first pass is followed: a reader that saw its bytes fails.
    const fetched = await transferOnce(client, store, blob, opts, pass === 1 ? onTail : undefined);
    try {
      if (fetched.digest !== blob.digest) {
        throw new CacheError('DIGEST_MISMATCH', `content digest mismatch: expected ${blob.digest}, got ${fetched.digest}`);
      }
      await store.adoptFile(fetched.tmp, blob.digest, blob.size);
      return;
    } catch (e) {
      await fs.rm(fetched.tmp, { force: true });
      if ((e as { code?: string }).code !== 'DIGEST_MISMATCH') throw e;
      if (pass === 1 && fetched.resumed) {
        fetched.tail?.fail(new Error(`blob ${blob.digest} is downloaded again`));
        continue;
      }
      throw badDigest(client, `blob ${blob.digest}`, blob.digest, /got (\S+)/.exec((e as Error).message)?.[1] ?? 'another digest');
    }
  }
}

function rangeStart(res: HttpResponse): number | undefined {
  const m = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

async function transferOnce(
  client: RegistryClient,
  store: ContentStore,
  blob: BlobRef,
  opts: DownloadOptions,
  onTail?: (tail: BlobTail) => void,
): Promise<{ tmp: string; resumed: boolean; digest: Digest; tail?: BlobTail }> {
  const tmp = await store.newTempPath('pull');
  const fh = await fs.open(tmp, 'w+', 0o644);
  let have = 0;
  let resumed = false;
  // Of the bytes 0..have, in order: a resumed transfer continues it.
  let hash = createHash('sha256');
  const tail = onTail ? new BlobTail(tmp) : undefined;
  if (tail) onTail!(tail);
  // A reader already past the bytes about to be dropped cannot go back.
  const restart = async () => {
    tail?.fail(new Error(`the download of blob ${blob.digest} restarted`));
    have = 0;
    hash = createHash('sha256');
    await fh.truncate(0);
  };
  const stall = new StallWatch(opts.stall ?? DEFAULT_STALL_LIMITS, `blob ${blob.digest} of ${client.label} from ${client.registry}`);
  try {
    await withRetry(async () => {
      let got = 0;
      let watch: ReturnType<StallWatch['watchTry']> | undefined;
      try {
        const headers: Record<string, string> = have > 0 ? { Range: `bytes=${have}-` } : {};
        const res = await client.request('GET', `blobs/${blob.digest}`, { headers, ok: [200, 206], retry: false });
        watch = stall.watchTry((err) => res.body.destroy(err));
        if (res.status === 206) resumed = true;
        if (res.status === 206 && rangeStart(res) !== have) {
          await discard(res);
          await restart();
          throw new TransientError(`${client.registry} answered a range other than the one asked for`);
        }
        if (res.status === 200 && have > 0) {
          // The registry ignored Range: it sends everything again.
          opts.onBytes?.(-have);
          await restart();
        }
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (have + chunk.length > blob.size) {
            res.body.destroy();
            throw new RegistryError('REGISTRY_DIGEST_MISMATCH', `${client.registry} sent more than the ${blob.size} bytes of blob ${blob.digest} for ${client.label}`);
          }
          // The hash vouches for the file only if every byte got there.
          for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off, have + off)).bytesWritten;
          hash.update(chunk);
          have += chunk.length;
          tail?.grew(have);
          got += chunk.length;
          watch.onBytes(chunk.length);
          opts.onBytes?.(chunk.length);
        }
        if (have < blob.size) throw new TransientError(`blob ${blob.digest} ended after ${have} of ${blob.size} bytes`);
      } catch (e) {
        // A try that got a response but ended without bringing much counts against the blob, however it ended.
        if (watch && isTransient(e)) stall.afterFailedTry(got, have, blob.size, e);
        throw e;
      } finally {
        watch?.stop();
      }
    }, opts.retry);
    await fh.close();
    tail?.end();
  } catch (e) {
    tail?.fail(e as Error);
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw client.describe(e);
  }
  const digest = digestFromHex(hash.digest('hex'));
  return tail ? { tmp, resumed, digest, tail } : { tmp, resumed, digest };
}
