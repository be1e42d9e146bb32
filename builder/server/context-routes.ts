// Context sync requests: which contents the server lacks, and the upload of
// those contents (digest-checked records, see builder/remote/blob-batch.ts).
import type { ServerHttp2Stream } from 'node:http2';
import { readBlobRecords } from '../remote/blob-batch.js';
import { RemoteError } from '../remote/errors.js';
import type { Digest } from '../../cache/digest.js';
import type { Route } from './respond.js';
import { sendJson } from './respond.js';

/** Largest single file content accepted (a context file, not an image). */
const MAX_BLOB_BYTES = 64 * 1024 ** 3;

export async function readJsonBody(stream: ServerHttp2Stream): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).length;
    if (size > 256 * 1024 * 1024) throw new RemoteError('REMOTE_PROTOCOL', 'request body too large');
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new RemoteError('REMOTE_PROTOCOL', 'request body is not a JSON object');
}

export const handleMissing: Route = async (ctx, stream) => {
  const body = await readJsonBody(stream);
  sendJson(stream, 200, { missing: await ctx.contexts.missing(body.digests) });
};

export const handleBlobs: Route = async (ctx, stream) => {
  let stored = 0;
  let bytes = 0;
  for await (const record of readBlobRecords(stream, MAX_BLOB_BYTES)) {
    await ctx.contexts.blobs.putStream(record.data, record.digest as Digest);
    stored++;
    bytes += record.size;
  }
  sendJson(stream, 200, { stored, bytes });
};
