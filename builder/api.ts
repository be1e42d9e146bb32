// tsbuild as a library: `import { build } from 'tsbuild'`. The same build
// as `tsbuild build`, without the CLI: options are plain objects, progress
// comes as events (the records of --progress=rawjson), cancellation through
// an AbortSignal, and failures are thrown (a user error carries
// `userError: true` and a stable `code`).
//
//   const result = await build({ context: './app', tags: ['app:v1'] });
//   result.imageId; // 'sha256:...'
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { build as runBuild } from './pipeline/build.js';
import type { BuildResult, ProgressEvent, SecretProvider, SshProvider } from './pipeline/options.js';
import type { OutputType } from './exporters/types.js';
import type { Limiter } from './concurrency.js';
import { localSsh } from './providers/local.js';
import { defaultRoot } from './cli/store-root.js';
import { UsageError } from './errors.js';

export type { BuildResult, ProgressEvent, ProgressVertex, SecretProvider, SshProvider, OutputType } from './pipeline/options.js';
export { Limiter } from './concurrency.js';
export { UsageError, BuildCanceledError } from './errors.js';

/** An -o/--output as an object: `{ type: 'oci', dest: 'app.tar' }` is `-o type=oci,dest=app.tar`. */
export interface Output {
  type: OutputType;
  [attr: string]: string;
}

/** A --cache-from/--cache-to as an object: `{ type: 'local', dest: '.cache' }`. */
export interface CacheLocation {
  type: 'registry' | 'local';
  [attr: string]: string;
}

export interface BuildRequest {
  /** The build context directory. */
  context: string;
  /** The Dockerfile's path; default `<context>/Dockerfile`. */
  dockerfile?: string;
  /** The Dockerfile's text, instead of reading a file. */
  dockerfileText?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  /** Only the host's platform can be built (no emulation). */
  platforms?: string[];
  noCache?: boolean;
  noCacheFilter?: string[];
  pull?: boolean;
  /** Default: `[{ type: 'image' }]`, the local store. */
  outputs?: Output[];
  cacheFrom?: CacheLocation[];
  cacheTo?: CacheLocation[];
  /** Secret values by id, or a provider asked only while a RUN mounts them. */
  secrets?: Record<string, string | Buffer> | SecretProvider;
  /** Agent sockets or comma-separated private key files by id (`{ default: process.env.SSH_AUTH_SOCK }`), or a provider. */
  ssh?: Record<string, string> | SshProvider;
  /** Entitlements, e.g. `['security.insecure']`. */
  allow?: string[];
  runtime?: 'native' | 'runc' | 'crun';
  /** The store's root; default: as the CLI ($TSBUILD_ROOT, /var/lib/tsbuild as root). */
  storeRoot?: string;
  /** Steps run at once (default: the number of CPUs), or slots shared with other builds. */
  jobs?: number;
  limiter?: Limiter;
  /** Clamps every timestamp (reproducible builds); a SOURCE_DATE_EPOCH build arg wins. */
  sourceDateEpoch?: number;
  signal?: AbortSignal;
  onEvent?: (e: ProgressEvent) => void;
}

function toMap(record: Record<string, string> | undefined): Map<string, string> {
  return new Map(Object.entries(record ?? {}));
}

function attrsOf(spec: { type: string; [attr: string]: string }): { type: string; attrs: Map<string, string> } {
  const { type, ...attrs } = spec;
  return { type, attrs: toMap(attrs) };
}

function secretProvider(secrets: BuildRequest['secrets']): SecretProvider | undefined {
  if (secrets === undefined || typeof (secrets as SecretProvider).getSecret === 'function') return secrets as SecretProvider | undefined;
  const values = secrets as Record<string, string | Buffer>;
  return { getSecret: async (id) => (Object.hasOwn(values, id) ? Buffer.from(values[id]!) : undefined) };
}

/** A caller's provider as is, or sockets / key files by id (key files get an agent of ours, closed after the build). */
function sshProvider(ssh: BuildRequest['ssh']): SshProvider & { close?(): Promise<void> } | undefined {
  if (ssh === undefined || typeof (ssh as SshProvider).agentSocket === 'function') return ssh as SshProvider | undefined;
  return localSsh(Object.entries(ssh as Record<string, string>).map(([id, socket]) => ({ id, paths: socket.split(',') })), undefined);
}

export async function build(req: BuildRequest): Promise<BuildResult> {
  if (!req.context) throw new UsageError('build: context is required');
  const contextDir = path.resolve(req.context);
  const dockerfilePath = req.dockerfileText === undefined ? path.resolve(contextDir, req.dockerfile ?? 'Dockerfile') : undefined;
  const dockerfileText = req.dockerfileText ?? await readFile(dockerfilePath!, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(err.code === 'ENOENT' ? `failed to read dockerfile: open ${dockerfilePath}: no such file or directory` : `failed to read dockerfile ${dockerfilePath}: ${err.message}`);
  });
  const ssh = sshProvider(req.ssh);
  try {
    return await runBuild({
      storeRoot: req.storeRoot ?? defaultRoot(),
      contextDir,
      dockerfilePath,
      dockerfileText,
      dockerfileName: dockerfilePath ? path.basename(dockerfilePath) : 'Dockerfile',
      tags: req.tags ?? [],
      buildArgs: toMap(req.buildArgs),
      labels: toMap(req.labels),
      target: req.target,
      platforms: req.platforms ?? [],
      noCache: req.noCache ?? false,
      noCacheFilter: req.noCacheFilter ?? [],
      pull: req.pull ?? false,
      outputs: (req.outputs ?? []).map((o) => attrsOf(o) as { type: OutputType; attrs: Map<string, string> }),
      cacheFrom: (req.cacheFrom ?? []).map(attrsOf),
      cacheTo: (req.cacheTo ?? []).map(attrsOf),
      allow: req.allow ?? [],
      runtime: req.runtime ?? 'native',
      jobs: req.jobs,
      limiter: req.limiter,
      sourceDateEpoch: req.sourceDateEpoch === undefined ? undefined : String(req.sourceDateEpoch),
    }, {
      onEvent: req.onEvent,
      signal: req.signal,
      secrets: secretProvider(req.secrets),
      ssh,
    });
  } finally {
    await ssh?.close?.();
  }
}
