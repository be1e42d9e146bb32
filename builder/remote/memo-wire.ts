// A no-op rebuild's question without HTTP/2 (protocol v6): on a unix socket
// or plain TCP, the client's first bytes are the memo question of
// memo-probe.ts in a frame of their own (memo-frame.ts), and the server
// answers it on the same connection, from its memo of identical builds,
// before any HTTP/2. A client whose context is unchanged then shows that
// answer and exits without loading node:http2 or making a session, which
// were a quarter of a no-op's time. On a miss, a changed context or a
// server that does not know the question (an older one answers HTTP/2
// frames and closes), the build goes the usual way on a new connection:
// one round trip more before a build that does real work. The connection
// is opened before the build's flags are read, so it is up by the time the
// question is ready.
import net from 'node:net';
import type { CliBuildRequest } from '../pipeline/options.js';
import { parseAddress } from './address.js';
import type { ConnectOptions } from './client.js';
import { buildManifest, contextIdOf, type ContextCheck, type ContextManifest } from './context-manifest.js';
import { encodeFrame, readFrame } from './memo-frame.js';
import { PROTOCOL_VERSIONS, type MemoWireAnswer, type MemoWireQuestion } from './protocol.js';
import { memoRequest } from './remote-request.js';

/**
 * The build's exit code when the server's memo answered it; otherwise how
 * the usual way goes on: whether it should still ask the memo over HTTP/2
 * (a server that does not speak this), and the context's manifest when it
 * was made here.
 */
export type WireOutcome = { code: number } | { askHttp: boolean; manifest?: ContextManifest };

/** A connection for the question, opened before the question is known. */
export interface MemoWire {
  /** The server's answer, or undefined when there is none to be had this way (no server, an older one, a broken answer). */
  ask(question: MemoWireQuestion): Promise<Answer | undefined>;
  close(): void;
}

interface Answer {
  header: MemoWireAnswer;
  /** For a hit: the recorded messages, one JSON object per line. */
  body: Buffer;
}

/** Opens the connection, on a unix socket or plain TCP; undefined for TLS and SSH, which ask as they always did. */
export function dialMemoWire(opts: ConnectOptions): MemoWire | undefined {
  if (opts.tls) return undefined;
  let address;
  try {
    address = parseAddress(opts.host);
  } catch {
    // The usual way says what is wrong with it.
    return undefined;
  }
  if (address.kind === 'ssh') return undefined;
  const socket = address.kind === 'unix' ? net.connect(address.path) : net.connect(address.port, address.host);
  let settle!: (answer: Answer | undefined) => void;
  const answer = new Promise<Answer | undefined>((resolve) => (settle = resolve));
  let settled = false;
  const done = (a: Answer | undefined) => {
    if (settled) return;
    settled = true;
    socket.destroy();
    settle(a);
  };
  let got: Buffer = Buffer.alloc(0);
  socket.on('error', () => done(undefined));
  socket.on('close', () => done(undefined));
  socket.on('data', (chunk: Buffer) => {
    got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
    const frame = readFrame(got);
    if (frame === 'more') return;
    done(frame === 'foreign' ? undefined : answerOf(frame.payload));
  });
  return {
    ask: (question) => {
      // Queued until the connection is up when it is not yet; the server answers the whole frame.
      if (!settled) socket.write(encodeFrame(JSON.stringify(question)));
      return answer;
    },
    close: () => done(undefined),
  };
}

export async function buildThroughMemoWire(wire: MemoWire | undefined, req: CliBuildRequest, check: ContextCheck): Promise<WireOutcome> {
  const digest = check.snapshot.digest;
  // Only a snapshot the check can confirm names the context the build will
  // have; a build with other contexts asks as it always did.
  if (!wire || digest === '' || !check.snapshot.checkable || (req.build.buildContexts ?? []).length > 0) {
    wire?.close();
    return { askHttp: true };
  }
  const request = memoRequest(req, contextIdOf(check.root), digest);
  const asked = wire.ask({ protocols: [...PROTOCOL_VERSIONS], request });
  // What shows an answer loads while the server answers: in an immediate,
  // after the event loop's I/O phase has sent the question. A build the
  // usual way needs the same modules.
  const showing = new Promise<[typeof import('./follow-build.js'), typeof import('./messages.js')]>((resolve, reject) => {
    setImmediate(() => Promise.all([import('./follow-build.js'), import('./messages.js')]).then(resolve, reject));
  });
  showing.catch(() => undefined);
  const answer = await asked;
  if (!answer) return { askHttp: true };
  if (answer.header.answer !== 'hit') return { askHttp: false };
  const manifest = await buildManifest(req.build.contextDir, req.build.dockerfilePath, check);
  if (!manifest.unchanged || manifest.digest !== digest) return { askHttp: false, manifest };
  const [{ contextSync, followBuild, openProgress }, { readMessages }] = await showing;
  const { progress, sync } = openProgress(req);
  const context = contextSync(manifest, new Map(), sync);
  // The answer is whole and the connection gone: nothing to end, cancel or answer.
  const code = await followBuild(undefined, req, { end: () => undefined, close: () => undefined }, readMessages([answer.body]), answer.header.buildId ?? '', progress, () => undefined, context);
  return { code };
}

function answerOf(payload: Buffer): Answer | undefined {
  const nl = payload.indexOf(10);
  try {
    const header = JSON.parse(payload.toString('utf8', 0, nl < 0 ? payload.length : nl)) as MemoWireAnswer;
    if (header.answer !== 'hit' && header.answer !== 'miss') return undefined;
    return { header, body: nl < 0 ? Buffer.alloc(0) : payload.subarray(nl + 1) };
  } catch {
    return undefined;
  }
}
