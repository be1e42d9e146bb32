// Following a remote build's stream: the progress records it sends are
// shown, the contents, secrets and SSH agent connections it asks for are
// given, streamed outputs are written here, then --iidfile and
// --metadata-file, and the build's exit code is the command's. The same
// for a build that runs and for an answer from the server's memo, whether
// it came over HTTP/2 or on a raw connection (memo-wire.ts), which has no
// HTTP/2 session (conn undefined) and no request to answer.
import { createWriteStream } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { CliBuildRequest, OutputSpec } from '../pipeline/options.js';
import { eventOf } from './wire-event.js';
import { createProgress, type ProgressWriter } from '../progress/index.js';
import type { ProgressTask } from '../progress/types.js';
import { formatSize } from '../../cache/gc-config.js';
import { RemoteError } from './errors.js';
import type { RemoteConnection } from './client.js';
import { errorOfAnswer, readBody, responseStatus } from './answers.js';
import type { ContextManifest } from './context-manifest.js';
import { uploadBlobs, type UploadStats } from './upload.js';
import { PATHS, type ClientMessage, type LocatedFailure, type ServerMessage } from './protocol.js';
import { formatWithExcerpt } from '../errors.js';
import { localSsh, readSecret } from '../providers/local.js';

/** The build's progress (none for --call), opened with its context's line before the context is looked at. */
export function openProgress(req: CliBuildRequest): { progress?: ProgressWriter; sync?: ProgressTask } {
  const progress = req.call === 'build' ? createProgress(req.progress, process.stderr) : undefined;
  return { progress, sync: progress?.task('[internal] load build context') };
}

/** The context's side of a build, whose line closes with what was uploaded when the server says the context is ready. */
export function contextSync(manifest: ContextManifest, locals: Map<string, ContextManifest>, sync: ProgressTask | undefined): ContextSync {
  const context: ContextSync = { manifest, locals, uploaded: { files: 0, bytes: 0 }, done: () => {
    sync?.log(`transferring context: ${formatSize(context.uploaded.bytes)} (${context.uploaded.files} of ${manifest.files} file contents) done`);
    sync?.done();
  } };
  return context;
}

/** The end of the client's side of the build stream: ended when the build is over, closed to cancel it. */
export interface BuildChannel {
  end(): void;
  close(): void;
}

/** The context's side of a build: what the server asks for before it starts. */
export interface ContextSync {
  manifest: ContextManifest;
  /** --build-context directories, by name. */
  locals: Map<string, ContextManifest>;
  uploaded: UploadStats;
  /** Closes the context's progress line (context-ready). */
  done(): void;
}

/** The HTTP/2 session a request of the server needs; a memo answer on a raw connection has none, and never asks. */
function session(conn: RemoteConnection | undefined, asked: string): RemoteConnection {
  if (!conn) throw new RemoteError('REMOTE_PROTOCOL', `the server's memo answer asked for ${asked}, which needs a build stream`);
  return conn;
}

/** The manifest the server asks about: the build context's, or a --build-context directory's. */
function manifestOf(context: ContextSync, name: string | undefined): ContextManifest {
  if (name === undefined) return context.manifest;
  const m = context.locals.get(String(name));
  if (!m) throw new RemoteError('REMOTE_PROTOCOL', `the server asked for context ${JSON.stringify(name)}, which this build does not have`);
  return m;
}

export async function followBuild(conn: RemoteConnection | undefined, req: CliBuildRequest, stream: BuildChannel, messages: AsyncIterable<ServerMessage>, buildId: string, progress: ProgressWriter | undefined, send: (m: ClientMessage) => void, context: ContextSync): Promise<number> {
  const opts = req.build;
  const pending: Promise<void>[] = [];
  let result: Extract<ServerMessage, { type: 'result' }> | undefined;
  const errLines: string[] = [];
  let syncError: unknown;
  const agents: Partial<SshAgents> = {};
  try {
    for await (const m of messages) {
      switch (m.type) {
        case 'need-manifest':
          send({ type: 'manifest', entries: manifestOf(context, m.context).entries(), ...(m.context === undefined ? {} : { context: m.context }) });
          break;
        case 'need-blobs':
          // In the background: the answers to the uploads arrive on other streams.
          pending.push(uploadBlobs(session(conn, m.type), manifestOf(context, m.context), Array.isArray(m.digests) ? m.digests : []).then((stats) => {
            context.uploaded = { files: context.uploaded.files + stats.files, bytes: context.uploaded.bytes + stats.bytes };
            send({ type: 'blobs-sent' });
          }, (err) => {
            // The server waits for the contents: closing the build stream cancels it.
            syncError ??= err;
            stream.close();
          }));
          break;
        case 'context-ready':
          context.done();
          break;
        case 'event':
          progress?.onProgress?.(eventOf(m.record));
          break;
        case 'stderr':
          errLines.push(m.text);
          break;
        case 'stdout':
          process.stdout.write(m.text);
          break;
        case 'secret-request':
          pending.push(answerSecret(req, m.reqId, m.id, send));
          break;
        case 'ssh-open':
          agents.provider ??= localSsh(req.ssh, process.env.SSH_AUTH_SOCK);
          void forwardAgent(session(conn, m.type), agents as SshAgents, buildId, m.connId, m.id);
          break;
        case 'output':
          // Fetched in order: the server sends the result once they all arrived.
          // In the background: the build goes on writing while the client reads.
          pending.push(fetchOutput(session(conn, m.type), opts.outputs, buildId, m.index).catch((err) => {
            throw err instanceof RemoteError ? err : new RemoteError('REMOTE_UNREACHABLE', `receiving output ${m.index + 1} failed: ${(err as Error).message}`);
          }));
          break;
        case 'result':
          result = m;
          break;
      }
    }
  } catch (err) {
    if (!result) {
      await agents.provider?.close();
      throw err;
    }
  }
  const failures = (await Promise.allSettled(pending)).filter((p) => p.status === 'rejected');
  // Key agents of our own end with the build: the keys were in this process's memory only.
  await agents.provider?.close();
  stream.end();
  if (syncError) throw syncError;
  if (!result) throw new RemoteError('REMOTE_UNREACHABLE', 'the server closed the build without a result');
  if (failures.length > 0 && result.exitCode === 0) throw (failures[0] as PromiseRejectedResult).reason;
  const ok = result.exitCode === 0;
  await progress?.close({ ok });
  for (const line of errLines) process.stderr.write(line + '\n');
  if (result.error) process.stderr.write(await failureText(result, req));
  if (agents.error && !ok) process.stderr.write(`ERROR: ${agents.error}\n`);
  if (ok && req.call === 'build') {
    if (req.iidFile && result.imageId) await writeFile(req.iidFile, result.imageId);
    if (req.metadataFile) await writeFile(req.metadataFile, JSON.stringify(result.metadata ?? {}, null, 2) + '\n');
    if (req.progress === 'quiet' && result.imageId) process.stdout.write(result.imageId + '\n');
  }
  return result.exitCode;
}

// A failure in the Dockerfile shows the client's Dockerfile around it, as a local build does.
async function failureText(result: { error?: string; failure?: LocatedFailure }, req: CliBuildRequest): Promise<string> {
  const f = result.failure;
  const excerpt = f && typeof f.line === 'number' && typeof f.message === 'string'
    ? await formatWithExcerpt(f.message, f, { file: req.build.dockerfileName, text: req.build.dockerfileText })
    : undefined;
  return excerpt ?? `ERROR: ${result.error}\n`;
}

async function answerSecret(opts: CliBuildRequest, reqId: number, id: string, send: (m: ClientMessage) => void): Promise<void> {
  try {
    const data = await readSecret(opts.secrets, id, process.env);
    send({ type: 'secret', reqId, data: data.toString('base64') });
  } catch (err) {
    send({ type: 'secret-error', reqId, message: (err as Error).message });
  }
}

// One agent connection of the build: a stream to the server, piped to the
// agent the user named as a local build would serve it (`--ssh id=SOCKET`,
// `--ssh id=KEY[,KEY]` through an agent of our own, $SSH_AUTH_SOCK).
async function forwardAgent(conn: RemoteConnection, agents: SshAgents, buildId: string, connId: number, id: string): Promise<void> {
  const remote = conn.request('POST', `${PATHS.sshConn}${buildId}/${connId}`);
  remote.on('error', () => undefined);
  let sockPath: string | undefined;
  try {
    sockPath = await agents.provider.agentSocket(id);
  } catch (err) {
    agents.error ??= (err as Error).message;
  }
  if (!sockPath) {
    remote.close();
    return;
  }
  const local = net.connect(sockPath);
  local.on('error', () => remote.close());
  local.pipe(remote);
  remote.pipe(local);
  remote.on('close', () => local.destroy());
}

/** The client's SSH agents for this build, and why one could not be served. */
interface SshAgents {
  provider: ReturnType<typeof localSsh>;
  error?: string;
}

// type=local (and an OCI layout directory) arrive as a tar and are unpacked
// here; the other outputs are written as they come.
async function fetchOutput(conn: RemoteConnection, outputs: OutputSpec[], buildId: string, index: number): Promise<void> {
  const out = outputs[index];
  const dest = out?.attrs.get('dest');
  const kind = out?.type === 'local' || (out?.type === 'oci' && out.attrs.get('tar') === 'false') ? 'dir' : 'file';
  const req = conn.request('GET', `${PATHS.output}${buildId}/${index}`);
  req.end();
  const status = await responseStatus(req);
  if (status !== 200) throw errorOfAnswer(status, await readBody(req));
  if (!dest) throw new RemoteError('REMOTE_PROTOCOL', `the server sent output ${index}, which has no dest here`);
  if (kind === 'dir') {
    await mkdir(dest, { recursive: true });
    const { applyLayer } = await import('../../cache/layer-unpack.js');
    await applyLayer(req, dest);
  } else if (dest === '-') {
    await pipeline(req, process.stdout, { end: false });
  } else {
    await pipeline(req, createWriteStream(dest));
  }
}

