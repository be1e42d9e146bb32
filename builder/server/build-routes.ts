// The build stream and the streams that belong to a running build: its
// streamed-back outputs and its forwarded SSH agent connections.
import { randomBytes } from '../../runner-native/native-crypto.js';
import type { ServerHttp2Stream } from 'node:http2';
import { encodeMessage, readMessages } from '../remote/messages.js';
import { RemoteError } from '../remote/errors.js';
import type { BuildRequest, ClientMessage, LocalContextRef, ManifestDelta, ServerMessage } from '../remote/protocol.js';
import { isUserError } from '../errors.js';
import { storePaths } from '../store/store-paths.js';
import { acquireLease, type Lease } from '../../cache/gc-lease.js';
import { BuildSession } from './build-session.js';
import { runRemoteBuild } from './build-adapter.js';
import { syncContext } from './context-sync.js';
import { checkBuildFlags } from './build-flags.js';
import type { MaterializedContext } from './context-cache.js';
import type { Route } from './respond.js';
import type { ServerContext } from './server-context.js';
import { sendError } from './respond.js';

export const handleBuild: Route = async (ctx, stream) => {
  const started = ctx.memo.start();
  const { req, messages } = await readRequest(ctx, stream);
  const memoKey = ctx.memo.keyOf(req);
  const memoized = memoKey === undefined ? undefined : ctx.memo.answer(memoKey);
  if (memoized) return answerFromMemo(ctx, stream, messages, usedContexts(ctx, req, memoized));
  const state = storePaths(ctx.settings.root).state;
  const session = new BuildSession(stream, state);
  ctx.builds.set(session.id, session);
  stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson', 'tsbuild-build-id': session.id });
  // The client going away (closed stream, killed process, Ctrl-C) cancels the build.
  let finished = false;
  stream.on('close', () => {
    if (!finished) session.cancel('the client disconnected');
  });
  void (async () => {
    try {
      for await (const m of messages) {
        if (session.answer(m)) continue;
        if (m.type === 'secret') session.answerSecret(m.reqId, Buffer.from(String(m.data), 'base64'));
        else if (m.type === 'secret-error') session.answerSecret(m.reqId, undefined);
        else if (m.type === 'cancel') session.cancel('build canceled by the client');
      }
    } catch {
      session.cancel('the client sent a malformed message');
    }
  })();
  let context: MaterializedContext | undefined;
  const locals: { name: string; context: MaterializedContext }[] = [];
  // The context tree is written before the build takes its own lease: this
  // one keeps the collector (`prune`, another build's size limit) off it meanwhile.
  let syncLease: Lease | undefined;
  try {
    syncLease = await acquireLease(ctx.settings.root, 'remote build (context sync)');
    context = await syncContext(ctx.contexts, req, session);
    for (const lc of req.localContexts ?? []) locals.push({ name: lc.name, context: await syncContext(ctx.contexts, lc, session, lc.name) });
    // From here on, what the client gets is what an identical build of an unchanged store would get.
    const recorded = memoKey === undefined ? undefined : session.record();
    session.send({ type: 'context-ready' });
    const localDirs = locals.map((l) => ({ name: l.name, value: localValue(l.context.dir, req.localContexts!.find((c) => c.name === l.name)!) }));
    const { storeOnly, ...result } = await runRemoteBuild(req, context.dir, session, ctx.settings, ctx.limiter, () => void syncLease?.release().catch(() => undefined), localDirs);
    session.send({ type: 'result', ...result });
    if (recorded && storeOnly && result.exitCode === 0 && !session.canceled) {
      void ctx.memo.record(memoKey!, [...recorded], storeOnly, started).catch((err) => ctx.log(`result memo: ${(err as Error)?.message ?? String(err)}`));
    }
  } catch (err) {
    if (!session.canceled) {
      const message = isUserError(err) ? (err as Error).message : `internal error: ${(err as Error)?.message ?? String(err)}`;
      if (!isUserError(err)) ctx.log(`build failed: ${(err as Error)?.stack ?? String(err)}`);
      session.send({ type: 'result', exitCode: 1, error: message });
    }
  } finally {
    finished = true;
    await syncLease?.release();
    ctx.builds.delete(session.id);
    await context?.release();
    for (const l of locals) await l.context.release();
    await session.close();
    if (!stream.destroyed) stream.end();
  }
};

/**
 * `POST /v1/build-memo`: the answer of an identical build of this
 * unchanged store, or memo-miss; never a build. A client asks it while it
 * checks its context, and uses the answer if the context is as it asked.
 */
export const handleBuildMemo: Route = async (ctx, stream) => {
  const { req, messages } = await readRequest(ctx, stream);
  const memoized = memoAnswer(ctx, req);
  if (memoized) return answerFromMemo(ctx, stream, messages, memoized);
  stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
  stream.end(encodeMessage({ type: 'memo-miss' } satisfies ServerMessage));
  drain(messages);
};

async function readRequest(ctx: Parameters<Route>[0], stream: ServerHttp2Stream): Promise<{ req: BuildRequest; messages: AsyncGenerator<ClientMessage> }> {
  const messages = readMessages<ClientMessage>(stream);
  const first = await messages.next();
  if (first.done || first.value.type !== 'build') throw new RemoteError('REMOTE_PROTOCOL', 'a build stream starts with a build message');
  return { req: checkRequest(first.value.request, ctx.settings.allowInsecure), messages };
}

/** Reads what the client still sends until it closes: there is nothing left to answer or cancel. */
function drain(messages: AsyncGenerator<ClientMessage>): void {
  void (async () => {
    try {
      for await (const _ of messages);
    } catch {
      // A malformed message after the answer.
    }
  })();
}

// What a synced --build-context means to the build: its directory, or the
// OCI layout the directory is (loaded into the store as a local build does).
function localValue(dir: string, ref: LocalContextRef): string {
  if (!ref.ociLayout) return dir;
  return `oci-layout://${dir}${ref.ociLayout.tag === undefined ? '' : `@${ref.ociLayout.tag}`}`;
}

/**
 * The answer an identical build of this unchanged store gave, or
 * undefined: for the build-memo request and for the same question on a
 * raw connection (memo-wire.ts).
 */
export function memoAnswer(ctx: ServerContext, req: BuildRequest): ServerMessage[] | undefined {
  const memoKey = ctx.memo.keyOf(req);
  const memoized = memoKey === undefined ? undefined : ctx.memo.answer(memoKey);
  return memoized && usedContexts(ctx, req, memoized);
}

/** The contexts' warm trees were used by an answer from the memo, as a sync would have marked them. */
function usedContexts(ctx: ServerContext, req: BuildRequest, messages: ServerMessage[]): ServerMessage[] {
  for (const contextId of [req.contextId, ...(req.localContexts ?? []).map((c) => c.contextId)]) void ctx.contexts.touch(contextId).catch(() => undefined);
  return messages;
}

/** The id an answer from the memo goes by, logged when the server debugs. */
export function memoAnswerId(ctx: ServerContext, how: string): string {
  const id = randomBytes(12).toString('hex');
  if (process.env.TSBUILD_SERVE_DEBUG) ctx.log(`build ${id}: answered from the memo of an identical build${how}`);
  return id;
}

// The answer an identical build of this unchanged store gave: sent whole,
// without a lease, a context sync or a build.
function answerFromMemo(ctx: ServerContext, stream: ServerHttp2Stream, rest: AsyncGenerator<ClientMessage>, messages: ServerMessage[]): void {
  const id = memoAnswerId(ctx, '');
  stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson', 'tsbuild-build-id': id });
  stream.end(messages.map(encodeMessage).join(''));
  drain(rest);
}

function sessionOf(ctx: Parameters<Route>[0], rest: string): { session: BuildSession; index: number } | undefined {
  const [id, n] = rest.split('/');
  const session = ctx.builds.get(id ?? '');
  const index = Number(n);
  return session && Number.isInteger(index) ? { session, index } : undefined;
}

export const handleOutput: Route = async (ctx, stream, _h, rest) => {
  const found = sessionOf(ctx, rest);
  const out = found?.session.outputs.get(found.index);
  if (!out) return sendError(stream, 404, 'REMOTE_PROTOCOL', 'no such output');
  stream.respond({ ':status': 200, 'content-type': 'application/x-tar' });
  try {
    await pipeTo(out.data, stream);
  } finally {
    out.markFetched();
  }
};

function pipeTo(src: NodeJS.ReadableStream, dst: ServerHttp2Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    src.on('error', reject);
    dst.on('error', reject);
    dst.on('finish', resolve);
    dst.on('close', resolve);
    src.pipe(dst);
  });
}

export const handleSshConn: Route = async (ctx, stream, _h, rest) => {
  const found = sessionOf(ctx, rest);
  if (!found || !found.session.attachSsh(found.index, stream)) sendError(stream, 404, 'REMOTE_PROTOCOL', 'no such agent connection');
};

// The request is checked in shape before anything runs: a client sending
// nonsense gets a one-line error, not a half-started build.
export function checkRequest(r: unknown, allowInsecure: string[]): BuildRequest {
  const req = r as BuildRequest;
  const bad = (what: string) => new RemoteError('REMOTE_PROTOCOL', `malformed build request: ${what}`);
  if (typeof req !== 'object' || req === null) throw bad('not an object');
  const contextRef = (c: LocalContextRef | BuildRequest) => typeof c?.contextId === 'string' && typeof c.manifestDigest === 'string' && (c.manifest === undefined || Array.isArray(c.manifest));
  const delta = (d: ManifestDelta | undefined) => d === undefined || (typeof d?.base === 'string' && Array.isArray(d.upsert) && Array.isArray(d.remove));
  if (!contextRef(req)) throw bad('context');
  if (!delta(req.manifestDelta)) throw bad('manifestDelta');
  if (req.localContexts !== undefined) {
    const names = new Set((req.buildContexts ?? []).map((c) => c?.name));
    const ok = Array.isArray(req.localContexts) && req.localContexts.every((c) => {
      const fresh = typeof c?.name === 'string' && c.name !== '' && !names.has(c.name);
      names.add(c?.name);
      const layout = c?.ociLayout === undefined || (typeof c.ociLayout === 'object' && c.ociLayout !== null && (c.ociLayout.tag === undefined || (typeof c.ociLayout.tag === 'string' && /^[^@/]+$/.test(c.ociLayout.tag))));
      return fresh && contextRef(c) && delta(c.manifestDelta) && layout;
    });
    if (!ok) throw bad('localContexts');
  }
  if (typeof req.dockerfile?.text !== 'string' || typeof req.dockerfile.name !== 'string') throw bad('dockerfile');
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  const pairs = (v: unknown) => Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === 'string'));
  const specs = (v: unknown) => Array.isArray(v) && v.every((o) => typeof o?.type === 'string' && pairs(o.attrs));
  for (const k of ['tags', 'platforms', 'noCacheFilter', 'secrets', 'ssh', 'allow'] as const) if (!strings(req[k])) throw bad(k);
  for (const k of ['buildArgs', 'labels'] as const) if (!pairs(req[k])) throw bad(k);
  for (const k of ['outputs', 'cacheFrom', 'cacheTo'] as const) if (!specs(req[k])) throw bad(k);
  if (typeof req.call !== 'string' || typeof req.runtime !== 'string') throw bad('call/runtime');
  // A client's paths mean nothing here, and the server's must not be reachable through them.
  if ([...req.cacheFrom, ...req.cacheTo].some((c) => c.type === 'local')) {
    throw new RemoteError('REMOTE_UNSUPPORTED', 'a type=local cache is a path on the client: not supported with --host (use type=registry)');
  }
  if (req.allow.includes('security.insecure') && !allowInsecure.includes('security.insecure')) {
    throw new RemoteError('REMOTE_UNSUPPORTED', 'security.insecure is not allowed by this server (start it with --allow-insecure-entitlement security.insecure)');
  }
  checkBuildFlags(req, allowInsecure);
  return req;
}
