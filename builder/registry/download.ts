// Blob downloads into the content store. The body goes to a temp file of
// the store; when the connection drops, the next try asks for the rest with
// `Range: bytes=<have>-` and keeps what it has if the registry answers 206
// from exactly there (else it starts over). The finished file is verified
// against the digest by `ContentStore.putFile` before it gets its name.
// A transfer that trickles is cut and resumed, and fails after a few tries
// without progress (stall.ts).
// Concurrent downloads of one blob into one store in this process share a
// single transfer.

import { promises as fs } from 'node:fs';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import type { RegistryClient } from './client.js';
import { RegistryError, TransientError } from './errors.js';
import { discard, header, type HttpResponse } from './http.js';
import { badDigest } from './manifest.js';
import { isTransient, withRetry, type RetryOptions } from './retry.js';
import { DEFAULT_STALL_LIMITS, StallWatch, type StallLimits } from './stall.js';

export interface BlobRef {
  digest: Digest;
  size: number;
}

export interface DownloadOptions {
  onBytes?: (bytes: number) => void;
  retry?: RetryOptions;
  /** Default: DEFAULT_STALL_LIMITS. */
  stall?: StallLimits;
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
  // A resumed transfer that fails verification gets one clean retry: the
  // registry may have served the range of a different representation.
  for (let pass = 1; ; pass++) {
    const fetched = await transferOnce(client, store, blob, opts);
    try {
      const { size } = await store.putFile(fetched.tmp, blob.digest);
      if (size !== blob.size) throw new RegistryError('REGISTRY_DIGEST_MISMATCH', `${client.registry} sent blob ${blob.digest} for ${client.label} with ${size} bytes, the manifest says ${blob.size}`);
      return;
    } catch (e) {
      await fs.rm(fetched.tmp, { force: true });
      if ((e as { code?: string }).code !== 'DIGEST_MISMATCH') throw e;
      if (pass === 1 && fetched.resumed) continue;
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
): Promise<{ tmp: string; resumed: boolean }> {
  const tmp = await store.newTempPath('pull');
  const fh = await fs.open(tmp, 'w+', 0o644);
  let have = 0;
  let resumed = false;
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
          have = 0;
          await fh.truncate(0);
          throw new TransientError(`${client.registry} answered a range other than the one asked for`);
        }
        if (res.status === 200 && have > 0) {
          // The registry ignored Range: it sends everything again.
          opts.onBytes?.(-have);
          have = 0;
          await fh.truncate(0);
        }
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (have + chunk.length > blob.size) {
            res.body.destroy();
            throw new RegistryError('REGISTRY_DIGEST_MISMATCH', `${client.registry} sent more than the ${blob.size} bytes of blob ${blob.digest} for ${client.label}`);
          }
          await fh.write(chunk, 0, chunk.length, have);
          have += chunk.length;
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
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw client.describe(e);
  }
  return { tmp, resumed };
}
