// A no-op rebuild's question without HTTP/2 (protocol v6): on a unix socket
// or plain TCP, the client's first bytes are the memo question of
// memo-probe.ts in a frame of their own (memo-frame.ts), and the server
// answers it on the same connection, from its memo of identical builds,
// before any HTTP/2. A client whose context is unchanged then shows that
// answer and exits without loading node:http2 or making a session, which
// were a quarter of a no-op's time. On a miss, a changed context or a
// server that does not know the question (an older one answers HTTP/2
// frames and closes), the build goes the usual way on a new connection:
// one round trip more before a build that does real work.
import net from 'node:net';
import type { CliBuildRequest } from '../pipeline/options.js';
import type { Address } from './address.js';
import { buildManifest, contextIdOf, type ContextCheck, type ContextManifest } from './context-manifest.js';
import { encodeFrame, readFrame } from './memo-frame.js';
import { readMessages } from './messages.js';
import { PROTOCOL_VERSIONS, type MemoWireAnswer, type MemoWireQuestion, type ServerMessage } from './protocol.js';
import { toRequest } from './remote-request.js';
import { contextSync, followBuild, openProgress } from './follow-build.js';

/**
 * The build's exit code when the server's memo answered it; otherwise how
 * the usual way goes on: whether it should still ask the memo over HTTP/2
 * (a server that does not speak this), and the context's manifest when it
 * was made here.
 */
export type WireOutcome = { code: number } | { askHttp: boolean; manifest?: ContextManifest };

export async function buildThroughMemoWire(address: Address, tls: boolean, req: CliBuildRequest, check: ContextCheck): Promise<WireOutcome> {
  const digest = check.snapshot.digest;
  // Only a snapshot the check can confirm names the context the build will have; a
  // build with other contexts or over TLS or SSH asks as it always did.
  if (tls || address.kind === 'ssh' || digest === '' || !check.snapshot.checkable || (req.build.buildContexts ?? []).length > 0) return { askHttp: true };
  const request = toRequest(req, { contextId: contextIdOf(check.root), digest, unchanged: true } as ContextManifest, new Map());
  const answer = await ask(address, { protocols: [...PROTOCOL_VERSIONS], request });
  if (!answer) return { askHttp: true };
  if (answer.header.answer !== 'hit') return { askHttp: false };
  const manifest = await buildManifest(req.build.contextDir, req.build.dockerfilePath, check);
  if (!manifest.unchanged || manifest.digest !== digest) return { askHttp: false, manifest };
  const { progress, sync } = openProgress(req);
  const context = contextSync(manifest, new Map(), sync);
  const messages = readMessages<ServerMessage>([answer.body]);
  // The answer is whole and the connection gone: nothing to end, cancel or answer.
  const code = await followBuild(undefined, req, { end: () => undefined, close: () => undefined }, messages, answer.header.buildId ?? '', progress, () => undefined, context);
  return { code };
}

/** The server's answer, or undefined when there is none to be had this way (no server, an older one, a broken answer). */
function ask(address: Extract<Address, { kind: 'unix' | 'tcp' }>, question: MemoWireQuestion): Promise<{ header: MemoWireAnswer; body: Buffer } | undefined> {
  return new Promise((resolve) => {
    const socket = address.kind === 'unix' ? net.connect(address.path) : net.connect(address.port, address.host);
    let got: Buffer = Buffer.alloc(0);
    const done = (answer: { header: MemoWireAnswer; body: Buffer } | undefined) => {
      socket.destroy();
      resolve(answer);
    };
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('data', (chunk: Buffer) => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const frame = readFrame(got);
      if (frame === 'more') return;
      done(frame === 'foreign' ? undefined : answerOf(frame.payload));
    });
    // Written at once, queued until the connection is up; the server answers the whole frame.
    socket.write(encodeFrame(JSON.stringify(question)));
  });
}

function answerOf(payload: Buffer): { header: MemoWireAnswer; body: Buffer } | undefined {
  const nl = payload.indexOf(10);
  try {
    const header = JSON.parse(payload.toString('utf8', 0, nl < 0 ? payload.length : nl)) as MemoWireAnswer;
    if (header.answer !== 'hit' && header.answer !== 'miss') return undefined;
    return { header, body: nl < 0 ? Buffer.alloc(0) : payload.subarray(nl + 1) };
  } catch {
    return undefined;
  }
}
