// The server's half of the memo question on a raw connection (protocol v6,
// remote/memo-wire.ts): the first bytes of every connection of a server
// without TLS are looked at; one that starts with the question's magic
// gets the memo's answer (or a miss) in one frame and is closed, any
// other (HTTP/2's preface, an older client) goes to HTTP/2 with the bytes
// read so far put back. Nothing but the memo is reachable this way: no
// build, no store command, nothing written. Over TLS the bytes are HTTP/2
// inside the TLS session, which this does not look into.
import type { Http2Server } from 'node:http2';
import type { Duplex } from 'node:stream';
import { encodeFrame, readFrame } from '../remote/memo-frame.js';
import { encodeMessage } from '../remote/messages.js';
import { MEMO_WIRE_SINCE, negotiate, type MemoWireAnswer, type MemoWireQuestion } from '../remote/protocol.js';
import { checkRequest, memoAnswer, memoAnswerId } from './build-routes.js';
import type { ServerContext } from './server-context.js';

/** Puts the look at the first bytes in front of the server's own handling of a connection. */
export function answerMemoQuestions(server: Http2Server, ctx: ServerContext): void {
  const http2Connection = server.listeners('connection')[0] as (socket: Duplex) => void;
  server.removeListener('connection', http2Connection);
  server.on('connection', (socket: Duplex) => sniff(socket, ctx, () => http2Connection.call(server, socket)));
}

function sniff(socket: Duplex, ctx: ServerContext, toHttp2: () => void): void {
  // A client gone before its first bytes is no error of the server's.
  socket.on('error', () => undefined);
  let got: Buffer = Buffer.alloc(0);
  const onReadable = () => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
    const frame = readFrame(got);
    if (frame === 'more') return;
    socket.off('readable', onReadable);
    if (frame !== 'foreign') return void socket.end(encodeFrame(answerOf(ctx, frame.payload)));
    socket.unshift(got);
    toHttp2();
  };
  socket.on('readable', onReadable);
}

/** The answer's frame: its header line, and the recorded messages for a hit. */
function answerOf(ctx: ServerContext, payload: Buffer): string {
  let protocol = 0;
  const header = (answer: MemoWireAnswer['answer'], more: Partial<MemoWireAnswer>) => JSON.stringify({ server: ctx.version, protocol, answer, ...more } satisfies MemoWireAnswer) + '\n';
  let question: MemoWireQuestion;
  try {
    question = JSON.parse(payload.toString('utf8')) as MemoWireQuestion;
  } catch {
    return header('miss', { reason: 'malformed question' });
  }
  protocol = negotiate(Array.isArray(question?.protocols) ? question.protocols.join(',') : undefined) ?? 0;
  if (protocol < MEMO_WIRE_SINCE) return header('miss', { reason: 'no shared protocol version' });
  if (ctx.draining) return header('miss', { reason: 'the server is shutting down' });
  let messages;
  try {
    messages = memoAnswer(ctx, checkRequest(question.request, ctx.settings.allowInsecure));
  } catch (err) {
    // The build the client then asks for on HTTP/2 gets the same error, as a build's answer.
    return header('miss', { reason: (err as Error).message });
  }
  if (!messages) return header('miss', {});
  return header('hit', { buildId: memoAnswerId(ctx, ' (on a raw connection)') }) + messages.map(encodeMessage).join('');
}
