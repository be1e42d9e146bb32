// `tsbuild --host X build ...`: the same flags and output as a local build,
// run by the server. The client syncs the context (only contents the server
// lacks), sends the request, shows the progress records it gets back,
// answers the server's calls for secrets and SSH agent connections, writes
// streamed outputs, --iidfile and --metadata-file here, and exits with the
// build's exit code. Ctrl-C or a dropped connection cancels the build.
import { createWriteStream } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import type { ClientHttp2Stream } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import type { BuildOptions, OutputSpec } from '../build/options.js';
import { createProgress, type ProgressWriter } from '../progress/index.js';
import type { RawJsonRecord } from '../progress/rawjson.js';
import { formatSize } from '../../cache/gc-config.js';
import { encodeMessage, readMessages } from './messages.js';
import { RemoteError } from './errors.js';
import { errorOfAnswer, readAnswer, responseHeaders, responseStatus, type RemoteConnection } from './client.js';
import { buildManifest } from './context-manifest.js';
import { uploadMissing } from './upload.js';
import { ProgressReplay } from './progress-replay.js';
import { PATHS, type BuildRequest, type ClientMessage, type ServerMessage } from './protocol.js';

const STREAMED = new Set(['local', 'tar', 'oci', 'docker']);

function toRequest(opts: BuildOptions, contextId: string, manifest: BuildRequest['manifest']): BuildRequest {
  return {
    contextId,
    manifest,
    dockerfile: { text: opts.dockerfileText, name: opts.dockerfileName },
    tags: opts.tags,
    buildArgs: [...opts.buildArgs],
    labels: [...opts.labels],
    target: opts.target,
    platforms: opts.platforms,
    noCache: opts.noCache,
    noCacheFilter: opts.noCacheFilter,
    pull: opts.pull,
    outputs: opts.outputs.map((o) => ({ type: o.type, attrs: [...o.attrs].filter(([k]) => k !== 'dest'), stream: STREAMED.has(o.type) || undefined })),
    secrets: opts.secrets.map((s) => s.id),
    ssh: opts.ssh.map((s) => s.id),
    cacheFrom: opts.cacheFrom.map((c) => ({ type: c.type, attrs: [...c.attrs] })),
    cacheTo: opts.cacheTo.map((c) => ({ type: c.type, attrs: [...c.attrs] })),
    call: opts.call,
    allow: opts.allow,
    push: opts.push,
    runtime: opts.runtime,
    wantMetadata: opts.metadataFile !== undefined,
  };
}

/** Every streamed output needs a dest here, checked before anything is sent. */
function checkOutputs(outputs: OutputSpec[]): void {
  for (const o of outputs) {
    if (STREAMED.has(o.type) && !o.attrs.get('dest')) throw new RemoteError('REMOTE_ADDRESS', `--output type=${o.type} needs dest=<path>`);
  }
}

export async function remoteBuild(conn: RemoteConnection, opts: BuildOptions): Promise<number> {
  checkOutputs(opts.outputs);
  const progress = opts.call === 'build' ? createProgress(opts.progress, process.stderr) : undefined;
  const sync = progress?.task('[internal] load build context');
  const manifest = await buildManifest(opts.contextDir, opts.dockerfilePath);
  const uploaded = await uploadMissing(conn, manifest);
  sync?.log(`transferring context: ${formatSize(uploaded.bytes)} (${uploaded.files} of ${manifest.sources.size} file contents) done`);
  sync?.done();

  const stream = conn.request('POST', PATHS.build, { 'content-type': 'application/x-ndjson' });
  const send = (m: ClientMessage) => {
    if (!stream.destroyed && !stream.writableEnded) stream.write(encodeMessage(m));
  };
  send({ type: 'build', request: toRequest(opts, manifest.contextId, manifest.entries) });
  const onSignal = () => {
    send({ type: 'cancel' });
    // A second Ctrl-C drops the connection: the server cancels on that too.
    process.once('SIGINT', () => stream.close());
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const headers = await responseHeaders(stream);
    const status = Number(headers[':status']);
    if (status !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      throw errorOfAnswer(status, Buffer.concat(chunks).toString('utf8'));
    }
    const buildId = String(headers['tsbuild-build-id'] ?? '');
    return await followBuild(conn, opts, stream, buildId, progress, send);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function followBuild(conn: RemoteConnection, opts: BuildOptions, stream: ClientHttp2Stream, buildId: string, progress: ProgressWriter | undefined, send: (m: ClientMessage) => void): Promise<number> {
  const replay = progress ? new ProgressReplay(progress) : undefined;
  const pending: Promise<void>[] = [];
  let result: Extract<ServerMessage, { type: 'result' }> | undefined;
  const errLines: string[] = [];
  try {
    for await (const m of readMessages<ServerMessage>(stream)) {
      switch (m.type) {
        case 'event':
          replay?.apply(m.record as unknown as RawJsonRecord);
          break;
        case 'stderr':
          errLines.push(m.text);
          break;
        case 'stdout':
          process.stdout.write(m.text);
          break;
        case 'secret-request':
          pending.push(answerSecret(opts, m.reqId, m.id, send));
          break;
        case 'ssh-open':
          forwardAgent(conn, opts, buildId, m.connId, m.id);
          break;
        case 'output':
          // Fetched in order: the server sends the result once they all arrived.
          await fetchOutput(conn, opts, buildId, m.index, m.kind);
          break;
        case 'result':
          result = m;
          break;
      }
    }
  } catch (err) {
    if (!result) throw err;
  }
  await Promise.allSettled(pending);
  if (!stream.writableEnded) stream.end();
  if (!result) throw new RemoteError('REMOTE_UNREACHABLE', 'the server closed the build without a result');
  const ok = result.exitCode === 0;
  await progress?.close({ ok });
  for (const line of errLines) process.stderr.write(line + '\n');
  if (result.error) process.stderr.write(`ERROR: ${result.error}\n`);
  if (ok && opts.call === 'build') {
    if (opts.iidFile && result.imageId) await writeFile(opts.iidFile, result.imageId);
    if (opts.metadataFile) await writeFile(opts.metadataFile, JSON.stringify(result.metadata ?? {}, null, 2) + '\n');
    if (opts.progress === 'quiet' && result.imageId) process.stdout.write(result.imageId + '\n');
  }
  return result.exitCode;
}

async function answerSecret(opts: BuildOptions, reqId: number, id: string, send: (m: ClientMessage) => void): Promise<void> {
  const spec = opts.secrets.find((s) => s.id === id);
  try {
    if (!spec) throw new Error(`secret ${id} was not given with --secret`);
    let data: Buffer;
    if (spec.env !== undefined && process.env[spec.env] !== undefined) data = Buffer.from(process.env[spec.env]!);
    else if (spec.src !== undefined) data = await readFile(spec.src);
    else throw new Error(`secret ${id}: environment variable ${spec.env} is not set`);
    send({ type: 'secret', reqId, data: data.toString('base64') });
  } catch (err) {
    send({ type: 'secret-error', reqId, message: (err as Error).message });
  }
}

// One agent connection of the build: a stream to the server, piped to the
// agent socket the user named (--ssh id=/path) or $SSH_AUTH_SOCK.
function forwardAgent(conn: RemoteConnection, opts: BuildOptions, buildId: string, connId: number, id: string): void {
  const spec = opts.ssh.find((s) => s.id === id);
  const sockPath = spec?.paths[0] ?? process.env.SSH_AUTH_SOCK;
  const remote = conn.request('POST', `${PATHS.sshConn}${buildId}/${connId}`);
  remote.on('error', () => undefined);
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

async function fetchOutput(conn: RemoteConnection, opts: BuildOptions, buildId: string, index: number, kind: 'tar' | 'dir'): Promise<void> {
  const out = opts.outputs[index];
  const dest = out?.attrs.get('dest');
  const req = conn.request('GET', `${PATHS.output}${buildId}/${index}`);
  req.end();
  const status = await responseStatus(req);
  if (status !== 200) throw errorOfAnswer(status, (await readAnswer(req)).text);
  if (!dest) throw new RemoteError('REMOTE_PROTOCOL', `the server sent output ${index}, which has no dest here`);
  if (kind === 'dir') {
    await mkdir(dest, { recursive: true });
    const { applyLayer } = await import('../../cache/layer-apply.js');
    await applyLayer(req, dest);
  } else if (dest === '-') {
    await pipeline(req, process.stdout, { end: false });
  } else {
    await pipeline(req, createWriteStream(dest));
  }
}
