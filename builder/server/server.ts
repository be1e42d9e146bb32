// `tsbuild serve`'s request handling: one HTTP/2 server whatever the
// transport; every stream is checked (authenticated peer, shared protocol
// version) before any work, and a failing or hostile request ends only
// itself, never the server.
import http2, { type Http2Server, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { PATHS, PROTOCOL_HEADER, PROTOCOL_VERSIONS, SERVER_VERSION_HEADER, negotiate, type Hello } from '../remote/protocol.js';
import { isUserError } from '../errors.js';
import type { ServerContext } from './server-context.js';
import { sendError, sendJson, type Route } from './respond.js';
import { handleBlobs } from './context-routes.js';
import { handleBuild, handleBuildMemo, handleOutput, handleSshConn } from './build-routes.js';
import { handleCommand } from './command-route.js';
import { answerMemoQuestions } from './memo-wire.js';

const ROUTES: [string, string, Route][] = [
  ['GET', PATHS.hello, async (ctx, stream, headers, _r) => sendJson(stream, 200, helloOf(ctx, headers))],
  ['POST', PATHS.blobs, handleBlobs],
  ['POST', PATHS.build, handleBuild],
  ['POST', PATHS.buildMemo, handleBuildMemo],
  ['GET', PATHS.output, handleOutput],
  ['POST', PATHS.sshConn, handleSshConn],
  ['POST', PATHS.command, handleCommand],
];

// serveStream has refused a client with no version in common, so one is picked
function helloOf(ctx: ServerContext, headers: IncomingHttpHeaders): Hello {
  return { server: ctx.version, protocol: negotiate(headers[PROTOCOL_HEADER] as string | undefined)!, protocols: [...PROTOCOL_VERSIONS] };
}

export function createHttp2Server(ctx: ServerContext, requireClientCert: boolean, secure?: http2.SecureServerOptions): Http2Server | Http2SecureServer {
  const settings = { maxSessionMemory: 64, settings: { maxConcurrentStreams: 256 } };
  const server = secure ? http2.createSecureServer({ ...secure, ...settings, allowHTTP1: false }) : http2.createServer(settings);
  server.on('stream', (stream, headers) => {
    void serveStream(ctx, stream, headers, requireClientCert);
  });
  server.on('session', (session: ServerHttp2Session) => {
    ctx.sessions.add(session);
    session.on('close', () => ctx.sessions.delete(session));
    // A broken or hostile peer: its session dies, the server keeps serving.
    session.on('error', () => undefined);
    session.setTimeout(0);
  });
  // A no-op rebuild's question may come before HTTP/2, on a connection of its own; not inside TLS.
  if (!secure) answerMemoQuestions(server as Http2Server, ctx);
  server.on('sessionError', () => undefined);
  server.on('tlsClientError', () => undefined);
  return server;
}

/** Serves one connection that is not a listening socket's (stdin/stdout of `serve --stdio`, an ssh channel). */
export function serveDuplex(server: Http2Server, stream: Duplex): void {
  server.emit('connection', stream);
}

async function serveStream(ctx: ServerContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, requireClientCert: boolean): Promise<void> {
  stream.on('error', () => undefined);
  try {
    // Mutual TLS: the handshake already refused a client without a valid
    // certificate; this makes sure no stream of an unverified one runs.
    const socket = stream.session?.socket as TLSSocket | undefined;
    if (requireClientCert && socket?.authorized !== true) {
      return sendError(stream, 403, 'REMOTE_AUTH', 'client certificate required');
    }
    const offered = headers[PROTOCOL_HEADER] as string | undefined;
    if (negotiate(offered) === undefined) {
      return sendError(stream, 400, 'REMOTE_VERSION', `protocol version mismatch: the client speaks ${offered ? `v${offered}` : 'no version'}, the server (tsbuild ${ctx.version}) speaks v${PROTOCOL_VERSIONS.join(', v')}`);
    }
    const method = headers[':method'];
    const path = String(headers[':path'] ?? '');
    // Shutting down: no new work, but running builds still fetch their outputs and agents.
    if (ctx.draining && !path.startsWith(PATHS.output) && !path.startsWith(PATHS.sshConn)) return sendError(stream, 503, 'REMOTE_UNREACHABLE', 'the server is shutting down');
    for (const [m, prefix, route] of ROUTES) {
      const exact = !prefix.endsWith('/');
      if (m === method && (exact ? path === prefix : path.startsWith(prefix))) return await route(ctx, stream, headers, path.slice(prefix.length));
    }
    sendError(stream, 404, 'REMOTE_PROTOCOL', `unknown request ${method} ${path}`);
  } catch (err) {
    if (isUserError(err)) return sendError(stream, 400, (err as { code?: string }).code ?? 'ERROR', (err as Error).message);
    ctx.log(`request failed: ${(err as Error)?.stack ?? String(err)}`);
    sendError(stream, 500, 'INTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`);
  }
}
