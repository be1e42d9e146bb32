// Answers and the shape of a request handler, shared by the routes.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { PROTOCOL_VERSIONS, SERVER_VERSION_HEADER } from '../remote/protocol.js';
import type { ServerContext } from './server-context.js';

export type Route = (ctx: ServerContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rest: string) => Promise<void>;

export function sendJson(stream: ServerHttp2Stream, status: number, body: unknown): void {
  if (stream.destroyed || stream.closed) return;
  if (!stream.headersSent) stream.respond({ ':status': status, 'content-type': 'application/json', [SERVER_VERSION_HEADER]: String(Math.max(...PROTOCOL_VERSIONS)) });
  stream.end(JSON.stringify(body));
}

export function sendError(stream: ServerHttp2Stream, status: number, code: string, message: string): void {
  sendJson(stream, status, { error: message, code });
}

