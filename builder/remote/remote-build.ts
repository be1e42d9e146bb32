// `tsbuild --host X build ...`: the same flags and output as a local build,
// run by the server. The client syncs the context (only contents the server
// lacks), sends the request, shows the progress records it gets back,
// answers the server's calls for secrets and SSH agent connections, writes
// streamed outputs, --iidfile and --metadata-file here, and exits with the
// build's exit code. Ctrl-C or a dropped connection cancels the build.
import { createWriteStream } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import type { ClientHttp2Stream } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import type { BuildOptions, CliBuildRequest, OutputSpec, ProgressEvent } from '../pipeline/options.js';

import { createProgress, type ProgressWriter } from '../progress/index.js';
import { formatSize } from '../../cache/gc-config.js';
import { encodeMessage, readMessages } from './messages.js';
import { RemoteError } from './errors.js';
import { errorOfAnswer, readBody, responseHeaders, responseStatus, type RemoteConnection } from './client.js';
import { buildManifest, contextIdOf, type ContextCheck } from './context-manifest.js';
import { askMemo, type MemoAnswer } from './memo-probe.js';
import { uploadBlobs, type UploadStats } from './upload.js';
import type { ContextManifest } from './context-manifest.js';
import { isClientDirectory, LOCAL_CONTEXTS_SINCE, OCI_LAYOUT_SINCE, PATHS, unresolvableContext, type BuildRequest, type ClientMessage, type LocalContextRef, type LocatedFailure, type ServerMessage } from './protocol.js';
import { formatWithExcerpt } from '../errors.js';
import { localSsh, readSecret } from '../providers/local.js';
import { ociLayoutOf } from '../pipeline/oci-layout-spec.js';

const STREAMED = new Set(['local', 'tar', 'oci', 'docker']);

function toRequest(req: CliBuildRequest, manifest: ContextManifest, locals: Map<string, ContextManifest>): BuildRequest {
  const opts = req.build;
  return {
    ...contextRef(manifest),
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
    secrets: req.secrets.map((s) => s.id),
    ssh: req.ssh.map((s) => s.id),
    cacheFrom: opts.cacheFrom.map((c) => ({ type: c.type, attrs: [...c.attrs] })),
    cacheTo: opts.cacheTo.map((c) => ({ type: c.type, attrs: [...c.attrs] })),
    call: req.call,
    allow: opts.allow,
    runtime: opts.runtime,
    sourceDateEpoch: opts.sourceDateEpoch,
    wantMetadata: req.metadataFile !== undefined,
    ...optionalFields(opts),
    ...(locals.size > 0 ? { localContexts: [...locals].map(([name, m]) => localRef(name, m, opts.buildContexts)) } : {}),
  };
}

// The digest alone when nothing changed: a server that built this context
// as it is now needs nothing more, and one that does not asks for the list
// (need-manifest). A changed context comes as its changes since the last
// build, or whole.
function contextRef(m: ContextManifest): Omit<LocalContextRef, 'name'> {
  return { contextId: m.contextId, manifestDigest: m.digest, ...(m.unchanged ? {} : deltaOrWhole(m)) };
}

function localRef(name: string, m: ContextManifest, contexts: BuildOptions['buildContexts']): LocalContextRef {
  const layout = ociLayoutOf(contexts?.find((c) => c.name === name)?.value ?? '');
  return { name, ...contextRef(m), ...(layout ? { ociLayout: layout.tag === undefined ? {} : { tag: layout.tag } } : {}) };
}

/**
 * --build-context NAME=DIR: each directory walked as the build context is,
 * by name. An OCI layout (`oci-layout://DIR[@TAG]`) travels the same way,
 * as the directory it is; the server loads the image from its copy.
 */
async function localContexts(contexts: BuildOptions['buildContexts'], hello: { protocol: number }): Promise<Map<string, ContextManifest>> {
  const dirs = (contexts ?? []).filter((c) => isClientDirectory(c.value));
  for (const { name, value } of dirs) {
    const layout = ociLayoutOf(value) !== undefined;
    const since = layout ? OCI_LAYOUT_SINCE : LOCAL_CONTEXTS_SINCE;
    if (hello.protocol < since) {
      throw new RemoteError('REMOTE_UNSUPPORTED', `--build-context ${name}=${value}: ${layout ? 'an OCI layout' : 'a directory'} context needs a server that speaks protocol v${since} (this one speaks v${hello.protocol}); upgrade the server`);
    }
  }
  const { contextDirectory, readOciLayout } = await import('../pipeline/named-contexts.js');
  const found = new Map<string, ContextManifest>();
  for (const { name, value } of dirs) {
    const dir = ociLayoutOf(value) ? (await readOciLayout(value)).dir : await contextDirectory(name, value);
    found.set(name, await buildManifest(dir, undefined));
  }
  return found;
}

// Fields an older server does not know are sent only when set, so a
// default build's request is the same as before they existed.
function optionalFields(opts: BuildOptions): Partial<BuildRequest> {
  const r = opts.runResources;
  const hasResources = r && (r.addHosts.length > 0 || r.ulimits.length > 0 || r.shmSize !== undefined || r.cgroupParent !== undefined);
  // Directories on the client travel as localContexts, never as paths.
  const serverContexts = (opts.buildContexts ?? []).filter((c) => !isClientDirectory(c.value));
  return {
    ...(opts.network && opts.network !== 'default' ? { network: opts.network } : {}),
    ...(opts.offline ? { offline: true } : {}),
    ...(opts.annotations && opts.annotations.size > 0 ? { annotations: [...opts.annotations] } : {}),
    ...(opts.attestations?.provenance ? { attestations: { provenance: { ...opts.attestations.provenance } } } : {}),
    ...(serverContexts.length > 0 ? { buildContexts: serverContexts.map((c) => ({ ...c })) } : {}),
    ...(hasResources ? { runResources: { ...r } } : {}),
  };
}

/** Flags the server cannot honour are refused here, before anything is sent. */
function checkBuildContexts(contexts: BuildOptions['buildContexts']): void {
  for (const { name, value } of contexts ?? []) {
    const why = isClientDirectory(value) ? undefined : unresolvableContext(value);
    if (why) throw new RemoteError('REMOTE_UNSUPPORTED', `--build-context ${name}=${value}: ${why}`);
  }
}

function deltaOrWhole(manifest: ContextManifest): Pick<BuildRequest, 'manifest' | 'manifestDelta'> {
  const delta = manifest.delta();
  if (delta && delta.upsert.length + delta.remove.length < manifest.entries().length / 2) return { manifestDelta: delta };
  return { manifest: manifest.entries() };
}

/** Every streamed output needs a dest here, checked before anything is sent. */
function checkOutputs(outputs: OutputSpec[]): void {
  for (const o of outputs) {
    if (STREAMED.has(o.type) && !o.attrs.get('dest')) throw new RemoteError('REMOTE_ADDRESS', `--output type=${o.type} needs dest=<path>`);
  }
}

/**
 * Asks the server, as soon as the connection is up, for the answer of an
 * identical build of the context as the last build saw it (memo-probe.ts);
 * remoteBuild uses it only if the check finds the context so. Called right
 * after connecting, so the question leaves with the hello, in the
 * session's first write, rather than after the server's first answer was
 * read and handled.
 */
export function askMemoEarly(connecting: Promise<RemoteConnection>, req: CliBuildRequest, check: ContextCheck): Promise<MemoAnswer | undefined> | undefined {
  // A --build-context directory is checked later, by a walk: no shortcut then.
  if ((req.build.buildContexts ?? []).some((c) => isClientDirectory(c.value))) return undefined;
  const contextId = contextIdOf(check.root);
  return askMemo(connecting, check, (digest) => toRequest(req, { contextId, digest, unchanged: true } as ContextManifest, new Map())).catch(() => undefined);
}

export async function remoteBuild(connecting: Promise<RemoteConnection>, req: CliBuildRequest, check?: ContextCheck, memo?: Promise<MemoAnswer | undefined>): Promise<number> {
  const opts = req.build;
  checkOutputs(opts.outputs);
  // One turn of the event loop first: the connection's first bytes leave
  // before the (synchronous) walk of the context starts, and a server that
  // is not there at all is reported before any progress.
  let refused: { error: unknown } | undefined;
  connecting.catch((error: unknown) => (refused = { error }));
  checkBuildContexts(opts.buildContexts);
  await new Promise((resolve) => setImmediate(resolve));
  if (refused) throw refused.error;
  const progress = req.call === 'build' ? createProgress(req.progress, process.stderr) : undefined;
  const sync = progress?.task('[internal] load build context');
  const manifest = await buildManifest(opts.contextDir, opts.dockerfilePath, check);
  const conn = await connecting;
  const locals = await localContexts(opts.buildContexts, conn.hello);
  const remembered = manifest.unchanged ? await memo : undefined;
  const answered = remembered?.digest === manifest.digest ? remembered : undefined;
  if (!answered) void memo?.then((a) => a?.stream.close());
  const context: ContextSync = { manifest, locals, uploaded: { files: 0, bytes: 0 }, done: () => {
    sync?.log(`transferring context: ${formatSize(context.uploaded.bytes)} (${context.uploaded.files} of ${manifest.files} file contents) done`);
    sync?.done();
  } };

  const stream = answered?.stream ?? conn.request('POST', PATHS.build, { 'content-type': 'application/x-ndjson' });
  const send = (m: ClientMessage) => {
    if (!stream.destroyed && !stream.writableEnded) stream.write(encodeMessage(m));
  };
  if (!answered) send({ type: 'build', request: toRequest(req, manifest, locals) });
  const onSignal = () => {
    send({ type: 'cancel' });
    // A second Ctrl-C drops the connection: the server cancels on that too.
    process.once('SIGINT', () => stream.close());
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (answered) return await followBuild(conn, req, stream, answered.messages, answered.buildId, progress, send, context);
    const headers = await responseHeaders(stream);
    const status = Number(headers[':status']);
    if (status !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      throw errorOfAnswer(status, Buffer.concat(chunks).toString('utf8'));
    }
    const buildId = String(headers['tsbuild-build-id'] ?? '');
    return await followBuild(conn, req, stream, readMessages<ServerMessage>(stream), buildId, progress, send, context);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The context's side of a build: what the server asks for before it starts. */
interface ContextSync {
  manifest: ContextManifest;
  /** --build-context directories, by name. */
  locals: Map<string, ContextManifest>;
  uploaded: UploadStats;
  /** Closes the context's progress line (context-ready). */
  done(): void;
}

/** The manifest the server asks about: the build context's, or a --build-context directory's. */
function manifestOf(context: ContextSync, name: string | undefined): ContextManifest {
  if (name === undefined) return context.manifest;
  const m = context.locals.get(String(name));
  if (!m) throw new RemoteError('REMOTE_PROTOCOL', `the server asked for context ${JSON.stringify(name)}, which this build does not have`);
  return m;
}

async function followBuild(conn: RemoteConnection, req: CliBuildRequest, stream: ClientHttp2Stream, messages: AsyncIterable<ServerMessage>, buildId: string, progress: ProgressWriter | undefined, send: (m: ClientMessage) => void, context: ContextSync): Promise<number> {
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
          pending.push(uploadBlobs(conn, manifestOf(context, m.context), Array.isArray(m.digests) ? m.digests : []).then((stats) => {
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
          void forwardAgent(conn, agents as SshAgents, buildId, m.connId, m.id);
          break;
        case 'output':
          // Fetched in order: the server sends the result once they all arrived.
          // In the background: the build goes on writing while the client reads.
          pending.push(fetchOutput(conn, opts.outputs, buildId, m.index).catch((err) => {
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
  if (!stream.writableEnded) stream.end();
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

/** A progress event off the wire: step output bytes come as base64. */
function eventOf(record: Record<string, unknown>): ProgressEvent {
  if (record.encoding === 'base64' && typeof record.data === 'string') {
    const { encoding: _, ...rest } = record;
    return { ...rest, data: Buffer.from(record.data, 'base64') } as unknown as ProgressEvent;
  }
  return record as unknown as ProgressEvent;
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
