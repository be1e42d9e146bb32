// The one place where a remote build request becomes a build: the same
// `build(options, io)` call the CLI makes, in this process, with the
// server's store and its one parallelism limit. Progress events go to the
// client as they come, secrets and SSH agents are asked of the client while
// a step needs them, and streamed outputs are written into the client's
// request for them instead of a file here.
import { PassThrough, type Writable } from 'node:stream';
import { build, evaluate } from '../pipeline/build.js';
import type { BuildIO, BuildOptions, CallMode, OutputSpec } from '../pipeline/options.js';
import { wireEvent } from '../remote/wire-event.js';
import { formatUserError, isUserError, locationOf, unwrap } from '../errors.js';
import type { BuildRequest, LocatedFailure } from '../remote/protocol.js';
import type { BuildSession } from './build-session.js';
import type { ServeSettings } from './server-context.js';
import type { Limiter } from '../concurrency.js';
import { buildFlagOptions } from './build-flags.js';
import type { StoreOnlyBuild } from '../memo/memo-checks.js';

export interface AdapterResult {
  exitCode: number;
  imageId?: string;
  metadata?: Record<string, unknown>;
  error?: string;
  failure?: LocatedFailure;
}

/** The result message's fields, and what the server's memo needs of a build that followed from the store alone. */
export type AdapterOutcome = AdapterResult & { storeOnly?: StoreOnlyBuild };

/** Streamed outputs are tar streams named `remote:<index>`; the client unpacks type=local itself. */
const REMOTE_DEST = 'remote:';

function outputOf(out: BuildRequest['outputs'][number], index: number): OutputSpec {
  const attrs = new Map(out.attrs.filter(([k]) => k !== 'dest'));
  if (!out.stream) return { type: out.type as OutputSpec['type'], attrs };
  attrs.set('dest', `${REMOTE_DEST}${index}`);
  if (out.type === 'local') return { type: 'tar', attrs };
  // An OCI layout directory travels as its tar; the client unpacks it.
  if (out.type === 'oci') attrs.delete('tar');
  return { type: out.type as OutputSpec['type'], attrs };
}

/** `localDirs`: the server's copies of the client's --build-context directories. */
export function optionsOf(req: BuildRequest, contextDir: string, settings: ServeSettings, limiter: Limiter, localDirs: { name: string; value: string }[] = []): BuildOptions {
  const specs = (list: BuildRequest['cacheFrom']) => list.map((c) => ({ type: c.type, attrs: new Map(c.attrs) }));
  return {
    storeRoot: settings.root,
    contextDir,
    // The context directory holds exactly that manifest (server/context-cache.ts).
    contextDigest: req.manifestDigest,
    dockerfileText: req.dockerfile.text,
    dockerfileName: req.dockerfile.name,
    tags: req.tags,
    buildArgs: new Map(req.buildArgs),
    labels: new Map(req.labels),
    target: req.target,
    platforms: req.platforms,
    noCache: req.noCache,
    noCacheFilter: req.noCacheFilter,
    pull: req.pull,
    outputs: req.outputs.map(outputOf),
    // The server's defaults, unless the build names its own.
    cacheFrom: req.cacheFrom.length > 0 ? specs(req.cacheFrom) : settings.cacheFrom,
    cacheTo: req.cacheTo.length > 0 ? specs(req.cacheTo) : settings.cacheTo,
    allow: req.allow,
    runtime: req.runtime as BuildOptions['runtime'],
    limiter,
    sourceDateEpoch: req.sourceDateEpoch,
    keepStorage: settings.keepStorage,
    ...buildFlagOptions(req),
    ...(localDirs.length > 0 ? { buildContexts: [...(req.buildContexts ?? []), ...localDirs] } : {}),
    // The client applied its ignore files (its own <Dockerfile>.dockerignore among them).
    prefilteredContexts: ['', ...localDirs.map((d) => d.name)],
  };
}

/** `onStart`: the build holds its own lease on the store (see BuildIO.onStart). */
export async function runRemoteBuild(req: BuildRequest, contextDir: string, session: BuildSession, settings: ServeSettings, limiter: Limiter, onStart?: () => void, localDirs: { name: string; value: string }[] = []): Promise<AdapterOutcome> {
  try {
    const opts = optionsOf(req, contextDir, settings, limiter, localDirs);
    if (req.call !== 'build') {
      const exitCode = await evaluate(opts, req.call as Exclude<CallMode, 'build'>, { stdout: { write: (text: string) => session.send({ type: 'stdout', text }) } });
      return { exitCode };
    }
    const io: BuildIO = {
      onEvent: (e) => session.send({ type: 'event', record: wireEvent(e) }),
      ...(onStart ? { onStart } : {}),
      signal: session.abort.signal,
      secrets: { getSecret: (id) => (req.secrets.includes(id) ? session.getSecret(id) : Promise.resolve(undefined)) },
      ssh: { agentSocket: (id) => (req.ssh.includes(id) ? session.agentSocket(id) : Promise.resolve(undefined)) },
      openOutput: async (dest): Promise<Writable | undefined> => {
        if (!dest.startsWith(REMOTE_DEST)) return undefined;
        const index = Number(dest.slice(REMOTE_DEST.length));
        const pipe = new PassThrough({ highWaterMark: 1024 * 1024 });
        session.addOutput(index, pipe);
        session.send({ type: 'output', index });
        return pipe;
      },
    };
    const result = await build(opts, io);
    // The result goes only after every streamed output reached the client.
    await session.outputsDone();
    const storeOnly = result.storeOnlyKeys ? { storeOnly: { keys: result.storeOnlyKeys, manifestDigest: result.manifestDigest } } : {};
    return { exitCode: 0, imageId: result.imageId, metadata: req.wantMetadata ? result.metadata : undefined, ...storeOnly };
  } catch (error) {
    const err = unwrap(error);
    if (isUserError(err)) {
      const loc = locationOf(err);
      return { exitCode: 1, error: await formatUserError(err), ...(loc ? { failure: { message: err.message, ...loc } } : {}) };
    }
    return { exitCode: 2, error: `internal error (this is a bug in tsbuild): ${(err as Error)?.stack ?? String(err)}` };
  }
}
