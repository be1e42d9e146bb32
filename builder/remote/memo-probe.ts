// While the client checks its context, it asks the server (protocol v4)
// for the answer of an identical build, as if the context were unchanged
// since the last build (the snapshot's digest): the server answers from its
// memo of identical builds of an unchanged store (server/result-memo.ts),
// or says it has none, and never builds. When the check then finds the
// context unchanged, that answer is the build's: no request waits for the
// check, and no round trip follows it. Otherwise it is dropped unread.
import type { ClientHttp2Stream } from 'node:http2';
import { encodeMessage, readMessages } from './messages.js';
import { beforeHello, type RemoteConnection } from './client.js';
import { responseHeaders } from './answers.js';
import type { ContextCheck } from './context-manifest.js';
import { PATHS, type BuildRequest, type ServerMessage } from './protocol.js';

export interface MemoAnswer {
  /** The context digest it was asked for: the answer holds only if the check's manifest has it. */
  digest: string;
  stream: ClientHttp2Stream;
  buildId: string;
  /** The answer's messages, as the build stream would have sent them. */
  messages: AsyncIterable<ServerMessage>;
}

/** The recorded answer, or undefined (no memo, an older server, or any failure: the build then asks the usual way). */
export async function askMemo(connecting: Promise<RemoteConnection>, check: ContextCheck, request: (digest: string) => BuildRequest): Promise<MemoAnswer | undefined> {
  const digest = check.snapshot.digest;
  // Only a snapshot the check can confirm as it is (no racy entry) names the context the build will have.
  if (digest === '' || !check.snapshot.checkable) return undefined;
  // Sent as soon as the session is up, without waiting for the hello: a
  // server older than protocol v4 answers 404 (an unknown path) and nothing else.
  const conn = await beforeHello(connecting);
  const stream = conn.request('POST', PATHS.buildMemo, { 'content-type': 'application/x-ndjson' });
  stream.on('error', () => undefined);
  stream.end(encodeMessage({ type: 'build', request: request(digest) }));
  const headers = await responseHeaders(stream);
  if (Number(headers[':status']) !== 200) {
    stream.close();
    return undefined;
  }
  const messages = readMessages<ServerMessage>(stream);
  const first = await messages.next();
  if (first.done || first.value.type === 'memo-miss') {
    stream.close();
    return undefined;
  }
  return { digest, stream, buildId: String(headers['tsbuild-build-id'] ?? ''), messages: prepend(first.value, messages) };
}

async function* prepend<T>(first: T, rest: AsyncIterator<T>): AsyncGenerator<T> {
  yield first;
  for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
}
