// The upload of the file contents a build asked for (need-blobs):
// digest-checked records, see builder/remote/blob-batch.ts.
import { readBlobRecords } from '../remote/blob-batch.js';
import type { Digest } from '../../cache/digest.js';
import type { Route } from './respond.js';
import { sendJson } from './respond.js';

/** Largest single file content accepted (a context file, not an image). */
const MAX_BLOB_BYTES = 64 * 1024 ** 3;

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
