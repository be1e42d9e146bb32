// Reading the server's answers to HTTP/2 requests: status, body, and the
// error a non-2xx answer carries. Apart from the connection itself
// (client.ts): what uses only these never loads node:http2, the way a no-op
// answered on a raw connection (memo-wire.ts) does not.
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { RemoteError } from './errors.js';

export async function readAnswer(req: ClientHttp2Stream): Promise<{ status: number; text: string }> {
  const status = await responseStatus(req);
  return { status, text: await readBody(req) };
}

/** The rest of an answer whose headers were already read. */
export async function readBody(req: ClientHttp2Stream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function responseStatus(req: ClientHttp2Stream): Promise<number> {
  return Number((await responseHeaders(req))[':status']);
}

export function responseHeaders(req: ClientHttp2Stream): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    req.once('response', (h) => resolve(h));
    req.once('error', (err) => reject(new RemoteError('REMOTE_UNREACHABLE', `request failed: ${err.message}`)));
    req.once('close', () => reject(new RemoteError('REMOTE_UNREACHABLE', 'the server closed the request')));
  });
}

/** The server answers errors as `{"error": "...", "code": "..."}`. */
export function errorOfAnswer(status: number, text: string): Error {
  let message = text.trim() || `status ${status}`;
  let code = 'REMOTE_PROTOCOL';
  try {
    const body = JSON.parse(text) as { error?: string; code?: string };
    if (body.error) message = body.error;
    if (body.code) code = body.code;
  } catch {
    // Not JSON: the text is the message.
  }
  return new RemoteError(code === 'REMOTE_VERSION' ? 'REMOTE_VERSION' : code === 'REMOTE_AUTH' ? 'REMOTE_AUTH' : 'REMOTE_PROTOCOL', message);
}
