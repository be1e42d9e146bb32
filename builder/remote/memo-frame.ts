// The frames of the memo question on a raw connection (protocol.ts,
// MEMO_WIRE_MAGIC): the magic, a u32 big-endian length, the payload.
// Shared by the client (memo-wire.ts) and the server (server/memo-wire.ts).
import { MAX_MESSAGE_BYTES, MEMO_WIRE_MAGIC } from './protocol.js';

const MAGIC = Buffer.from(MEMO_WIRE_MAGIC, 'latin1');
const HEAD = MAGIC.length + 4;

export function encodeFrame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const head = Buffer.alloc(HEAD);
  MAGIC.copy(head);
  head.writeUInt32BE(body.length, MAGIC.length);
  return Buffer.concat([head, body]);
}

/** What the bytes received so far start with: a frame, the beginning of one, or something else (HTTP/2, garbage, a frame too large). */
export type FrameRead = { payload: Buffer } | 'more' | 'foreign';

export function readFrame(buf: Buffer, maxBytes = MAX_MESSAGE_BYTES): FrameRead {
  const magic = buf.subarray(0, MAGIC.length);
  if (!magic.equals(MAGIC.subarray(0, magic.length))) return 'foreign';
  if (buf.length < HEAD) return 'more';
  const length = buf.readUInt32BE(MAGIC.length);
  if (length > maxBytes) return 'foreign';
  if (buf.length < HEAD + length) return 'more';
  return { payload: buf.subarray(HEAD, HEAD + length) };
}
