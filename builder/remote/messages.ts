// One JSON object per line, in both directions of a stream. A line longer
// than MAX_MESSAGE_BYTES or one that is not a JSON object ends the stream
// with an error: a client sending garbage loses its own request, nothing else.
import { MAX_MESSAGE_BYTES } from './protocol.js';
import { RemoteError } from './errors.js';

export async function* readMessages<T>(stream: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, maxBytes = MAX_MESSAGE_BYTES): AsyncGenerator<T> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const raw of stream) {
    let chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10)) {
      pending.push(chunk.subarray(0, nl));
      const line = Buffer.concat(pending).toString('utf8');
      pending = [];
      pendingBytes = 0;
      chunk = chunk.subarray(nl + 1);
      if (line.trim() !== '') yield parseMessage<T>(line);
    }
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes > maxBytes) throw new RemoteError('REMOTE_PROTOCOL', `message larger than ${maxBytes} bytes`);
  }
  const rest = Buffer.concat(pending).toString('utf8');
  if (rest.trim() !== '') yield parseMessage<T>(rest);
}

function parseMessage<T>(line: string): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new RemoteError('REMOTE_PROTOCOL', `malformed message: ${JSON.stringify(line.slice(0, 60))}`);
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    throw new RemoteError('REMOTE_PROTOCOL', 'malformed message: not an object with a type');
  }
  return value as T;
}

export function encodeMessage(message: object): string {
  return JSON.stringify(message) + '\n';
}
