// `tsbuild --host X build ...`: the same flags and output as a local build,
// run by the server. The client syncs the context (only contents the server
// lacks), sends the request, shows the progress records it gets back,
// answers the server's calls for secrets and SSH agent connections, writes
// streamed outputs, --iidfile and --metadata-file here, and exits with the
// build's exit code. Ctrl-C or a dropped connection cancels the build.
import type { BuildOptions, CliBuildRequest } from '../pipeline/options.js';
import { encodeMessage, readMessages } from './messages.js';
import { RemoteError } from './errors.js';
import type { RemoteConnection } from './client.js';
import { errorOfAnswer, responseHeaders } from './answers.js';
import { buildManifest, contextIdOf, type ContextCheck, type ContextManifest } from './context-manifest.js';
import { askMemo, type MemoAnswer } from './memo-probe.js';
import { isClientDirectory, LOCAL_CONTEXTS_SINCE, OCI_LAYOUT_SINCE, PATHS, type ClientMessage, type ServerMessage } from './protocol.js';
import { ociLayoutOf } from '../pipeline/oci-layout-spec.js';
import { checkBuildContexts, checkOutputs, memoRequest, toRequest } from './remote-request.js';
import { contextSync, followBuild, openProgress } from './follow-build.js';

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
  return askMemo(connecting, check, (digest) => memoRequest(req, contextId, digest)).catch(() => undefined);
}

/** `known`: the context's manifest when it was already made (a memo answer on a raw connection that the context no longer matches). */
export async function remoteBuild(connecting: Promise<RemoteConnection>, req: CliBuildRequest, check?: ContextCheck, memo?: Promise<MemoAnswer | undefined>, known?: ContextManifest): Promise<number> {
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
  const { progress, sync } = openProgress(req);
  const manifest = known ?? await buildManifest(opts.contextDir, opts.dockerfilePath, check);
  const conn = await connecting;
  const locals = await localContexts(opts.buildContexts, conn.hello);
  const remembered = manifest.unchanged ? await memo : undefined;
  const answered = remembered?.digest === manifest.digest ? remembered : undefined;
  if (!answered) void memo?.then((a) => a?.stream.close());
  const context = contextSync(manifest, locals, sync);

  const stream = answered?.stream ?? conn.request('POST', PATHS.build, { 'content-type': 'application/x-ndjson' });
  const send = (m: ClientMessage) => {
    if (!stream.destroyed && !stream.writableEnded) stream.write(encodeMessage(m));
  };
  if (!answered) send({ type: 'build', request: toRequest(req, manifest, locals) });
  const channel = { end: () => void (stream.writableEnded || stream.end()), close: () => stream.close() };
  const onSignal = () => {
    send({ type: 'cancel' });
    // A second Ctrl-C drops the connection: the server cancels on that too.
    process.once('SIGINT', () => stream.close());
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (answered) return await followBuild(conn, req, channel, answered.messages, answered.buildId, progress, send, context);
    const headers = await responseHeaders(stream);
    const status = Number(headers[':status']);
    if (status !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      throw errorOfAnswer(status, Buffer.concat(chunks).toString('utf8'));
    }
    const buildId = String(headers['tsbuild-build-id'] ?? '');
    return await followBuild(conn, req, channel, readMessages<ServerMessage>(stream), buildId, progress, send, context);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

