// Uploads the file contents the server asked for (need-blobs), in batches
// (many small files share one request), a few batches at a time.
import { createReadStream } from 'node:fs';
import type { ClientHttp2Stream } from 'node:http2';
import { once } from 'node:events';
import { recordHeader } from './blob-batch.js';
import type { RemoteConnection } from './client.js';
import { errorOfAnswer, readAnswer } from './answers.js';
import type { ContextManifest } from './context-manifest.js';
import { RemoteError } from './errors.js';
import { PATHS } from './protocol.js';

const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_FILES = 2000;
const PARALLEL_BATCHES = 4;

export interface UploadStats {
  files: number;
  bytes: number;
}

export async function uploadBlobs(conn: RemoteConnection, manifest: ContextManifest, missing: readonly string[]): Promise<UploadStats> {
  const batches: string[][] = [];
  let cur: string[] = [];
  let curBytes = 0;
  for (const d of missing) {
    const src = manifest.sources().get(d);
    if (!src) throw new RemoteError('REMOTE_PROTOCOL', `the server asked for ${d}, which is not in the context`);
    if (cur.length > 0 && (curBytes + src.size > BATCH_BYTES || cur.length >= BATCH_FILES)) {
      batches.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(d);
    curBytes += src.size;
  }
  if (cur.length > 0) batches.push(cur);
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < batches.length) bytes += await uploadBatch(conn, manifest, batches[next++]!);
  };
  await Promise.all(Array.from({ length: PARALLEL_BATCHES }, worker));
  return { files: missing.length, bytes };
}

async function uploadBatch(conn: RemoteConnection, manifest: ContextManifest, digests: string[]): Promise<number> {
  const req = conn.request('POST', PATHS.blobs, { 'content-type': 'application/octet-stream' });
  const answer = readAnswer(req);
  answer.catch(() => undefined);
  let bytes = 0;
  for (const d of digests) {
    const src = manifest.sources().get(d)!;
    await write(req, recordHeader(d, src.size));
    let sent = 0;
    for await (const chunk of createReadStream(src.path)) {
      sent += (chunk as Buffer).length;
      if (sent > src.size) break;
      await write(req, chunk as Buffer);
    }
    // A file that changed size since it was hashed would corrupt the framing.
    if (sent !== src.size) throw new RemoteError('REMOTE_PROTOCOL', `${src.path} changed while it was being sent; run the build again`);
    bytes += src.size;
  }
  req.end();
  const { status, text } = await answer;
  if (status !== 200) throw errorOfAnswer(status, text);
  return bytes;
}

async function write(req: ClientHttp2Stream, data: Buffer): Promise<void> {
  if (!req.write(data)) await once(req, 'drain');
}
