// Starting and stopping a server: the store is tidied once (leases and
// temp files of builds a killed server left behind are reclaimed), then the
// listeners open; shutdown stops accepting, waits for running builds up to
// a grace period, cancels the rest and closes every connection.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { openStore, cleanupStale } from '../store/open-store.js';
import { contextCacheDir } from '../store/store-paths.js';
import { Limiter } from '../concurrency.js';
import { processAlive } from '../../cache/process-alive.js';
import { ContextCache } from './context-cache.js';
import { ResultMemo } from './result-memo.js';
import { listenAll, type Listener, type TlsFiles } from './listen.js';
import { createHttp2Server, serveDuplex } from './server.js';
import type { ServeSettings, ServerContext } from './server-context.js';

export interface RunningServer {
  ctx: ServerContext;
  listeners: Listener[];
  shutdown(graceMs: number): Promise<void>;
}

async function newContext(settings: ServeSettings, version: string, warmTrees: boolean): Promise<ServerContext> {
  const store = await openStore(settings.root);
  await cleanupStale(store);
  const contextBase = contextCacheDir(settings.root);
  await removeDeadTemp(path.join(contextBase, 'tmp'));
  return {
    version,
    settings,
    contexts: new ContextCache(contextBase, { warmTrees }),
    memo: new ResultMemo(settings),
    builds: new Map(),
    limiter: new Limiter(settings.maxParallelism),
    sessions: new Set(),
    draining: false,
    log: (line) => process.stderr.write(`tsbuild serve: ${line}\n`),
  };
}

// Temp trees are named `<pid>-<n>`: those of dead servers go.
async function removeDeadTemp(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && !processAlive(pid)) await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

export async function startServer(settings: ServeSettings, addrs: string[], tls: TlsFiles, group: string, version: string): Promise<RunningServer> {
  const ctx = await newContext(settings, version, true);
  const listeners = await listenAll(ctx, addrs, tls, group);
  return { ctx, listeners, shutdown: (graceMs) => shutdown(ctx, listeners, graceMs) };
}

async function shutdown(ctx: ServerContext, listeners: Listener[], graceMs: number): Promise<void> {
  ctx.draining = true;
  for (const l of listeners) l.server.close();
  const deadline = Date.now() + graceMs;
  while (ctx.builds.size > 0 && Date.now() < deadline) await sleep(100);
  for (const b of ctx.builds.values()) b.cancel('the server is shutting down');
  // Canceled builds end their sandboxes and release their leases before the connections go.
  const hard = Date.now() + 15_000;
  while (ctx.builds.size > 0 && Date.now() < hard) await sleep(100);
  // A graceful close lets streams in flight end (an output the client is
  // still reading after its build's result); a client that hangs gets 5 s.
  const closed = [...ctx.sessions].map((s) => new Promise<void>((resolve) => (s.closed || s.destroyed ? resolve() : s.close(() => resolve()))));
  await Promise.race([Promise.all(closed), sleep(5000)]);
  for (const s of ctx.sessions) s.destroy();
}

/** `serve --stdio` without a running server: this process serves the one connection. */
export async function serveOneConnection(settings: ServeSettings, stream: Duplex, version: string): Promise<void> {
  // Another process may serve the same store at the same time: no shared warm trees.
  const ctx = await newContext(settings, version, false);
  const server = createHttp2Server(ctx, false);
  await new Promise<void>((resolve) => {
    server.on('session', (session) => session.on('close', resolve));
    stream.on('close', resolve);
    stream.on('end', resolve);
    serveDuplex(server as never, stream);
  });
  for (const b of ctx.builds.values()) b.cancel('the client disconnected');
  while (ctx.builds.size > 0) await sleep(100);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
