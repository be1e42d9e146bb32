// `tsbuild build`'s flags, docker-compatible, read into the build they ask
// for: the same for a local build (commands/build.ts) and one run by a
// server (remote-dispatch.ts), which must not load the local builder.
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { parseReference } from '../image/reference.js';
import { parseAddHost, parseCgroupParent, parseShmSize, parseUlimit, type RunResources } from '../steps/run-resources.js';
import path from 'node:path';
import { parseArgs, getBool, getList, getString, formatFlagHelp, type FlagSpec } from './args.js';
import { UsageError } from '../errors.js';
import { parseCsvSpec, parseKeyValues } from './kv-spec.js';
import type { BuildOptions, CallMode, OutputSpec, SecretSpec, SshSpec, CacheSpec } from '../pipeline/options.js';
import type { CliBuildRequest } from '../pipeline/options.js';
import type { ProgressMode } from '../progress/types.js';
import { defaultRoot } from './store-root.js';
import { OUTPUT_TYPES } from '../exporters/types.js';
import { parseProvenanceFlag, provenanceFromAttrs, type AttestationRequest } from '../attestations/provenance.js';

export const BUILD_FLAGS: FlagSpec[] = [
  { name: 'tag', short: 't', type: 'list', metavar: 'NAME:TAG', help: 'Name and optionally a tag (format: "name:tag")' },
  { name: 'file', short: 'f', type: 'string', metavar: 'FILE', help: 'Name of the Dockerfile (default: "PATH/Dockerfile"; "-" reads stdin)' },
  { name: 'build-arg', type: 'list', metavar: 'K=V', help: 'Set build-time variables' },
  { name: 'attest', type: 'list', metavar: 'SPEC', help: 'Attestation parameters (format: "type=provenance,mode=min|max"; type=sbom is not supported)' },
  { name: 'provenance', type: 'string', metavar: 'VALUE', help: 'Shorthand for "--attest=type=provenance" (true, false, mode=min|max); attached to oci, docker and registry outputs' },
  { name: 'sbom', type: 'string', metavar: 'VALUE', help: 'SBOM attestation (not supported: only "false")' },
  { name: 'annotation', type: 'list', metavar: 'KEY=VALUE', help: 'Add an annotation to the image manifest ("manifest:" prefix accepted)' },
  { name: 'add-host', type: 'list', metavar: 'HOST:IP', help: 'Add a custom host-to-IP mapping (format: "host:ip") to RUN\'s /etc/hosts' },
  { name: 'ulimit', type: 'list', metavar: 'NAME=SOFT[:HARD]', help: 'Ulimit options for RUN (e.g. nofile=1024:2048)' },
  { name: 'shm-size', type: 'string', metavar: 'SIZE', help: 'Size of /dev/shm for RUN (e.g. 128m; default 64m)' },
  { name: 'cgroup-parent', type: 'string', metavar: 'PATH', help: 'Parent cgroup for the RUN sandboxes' },
  { name: 'build-context', type: 'list', metavar: 'NAME=VALUE', help: 'Additional build contexts (e.g., name=path, name=docker-image://ref, name=oci-layout://path[@tag], name=target:stage, name=URL)' },
  { name: 'target', type: 'string', metavar: 'STAGE', help: 'Set the target build stage to build' },
  { name: 'platform', type: 'list', metavar: 'PLATFORM', help: 'Set target platform for build (only the host platform is built)' },
  { name: 'label', type: 'list', metavar: 'K=V', help: 'Set metadata for an image' },
  { name: 'no-cache', type: 'bool', help: 'Do not use cache when building the image' },
  { name: 'no-cache-filter', type: 'list', metavar: 'STAGE', help: 'Do not cache specified stages' },
  { name: 'pull', type: 'bool', help: 'Always attempt to pull all referenced images' },
  { name: 'progress', type: 'string', metavar: 'MODE', help: 'Set type of progress output: auto, plain, tty, rawjson, quiet' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the build output and print image ID on success' },
  { name: 'output', short: 'o', type: 'list', metavar: 'SPEC', help: 'Output destination (format: "type=local,dest=path")' },
  { name: 'iidfile', type: 'string', metavar: 'FILE', help: 'Write the image ID to a file' },
  { name: 'metadata-file', type: 'string', metavar: 'FILE', help: 'Write build result metadata to a file' },
  { name: 'secret', type: 'list', metavar: 'SPEC', help: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret|env=VAR]")' },
  { name: 'ssh', type: 'list', metavar: 'SPEC', help: 'SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>|<key>[,<key>]]")' },
  { name: 'cache-from', type: 'list', metavar: 'SPEC', help: 'External cache sources (e.g. "type=local,src=path")' },
  { name: 'cache-to', type: 'list', metavar: 'SPEC', help: 'Cache export destinations (e.g. "type=local,dest=path")' },
  { name: 'call', type: 'string', metavar: 'MODE', help: 'Set method for evaluating build: build, check, outline, targets' },
  { name: 'check', type: 'bool', help: 'Shorthand for "--call=check"' },
  { name: 'allow', type: 'list', metavar: 'ENTITLEMENT', help: 'Allow extra privileged entitlement (e.g. security.insecure)' },
  { name: 'push', type: 'bool', help: 'Shorthand for "--output=type=registry"' },
  { name: 'load', type: 'bool', help: 'Shorthand for "--output=type=docker" into the local store (the default)' },
  { name: 'network', type: 'string', metavar: 'MODE', help: 'Networking mode for the RUN instructions: default (own namespace, outbound access), none, host (needs --allow network.host)' },
  { name: 'runtime', type: 'string', metavar: 'RUNTIME', help: 'Run RUN steps with: native (default), runc or crun (an installed OCI runtime, same spec)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];


function parseOutput(spec: string): OutputSpec {
  // docker's shorthand: `-o DIR` means type=local,dest=DIR; `-o -` a tar on stdout.
  if (!spec.includes('=')) {
    return spec === '-' ? { type: 'tar', attrs: new Map([['dest', '-']]) } : { type: 'local', attrs: new Map([['dest', spec]]) };
  }
  const attrs = parseCsvSpec(spec, '--output');
  const type = attrs.get('type') ?? 'local';
  if (!(OUTPUT_TYPES as readonly string[]).includes(type)) throw new UsageError(`invalid --output "${spec}": unknown type "${type}" (one of ${OUTPUT_TYPES.join(', ')})`);
  attrs.delete('type');
  return { type: type as OutputSpec['type'], attrs };
}

function parseSecret(spec: string): SecretSpec {
  const attrs = parseCsvSpec(spec, '--secret');
  const id = attrs.get('id');
  if (!id) throw new UsageError(`invalid --secret "${spec}": id is required`);
  const src = attrs.get('src') ?? attrs.get('source');
  const env = attrs.get('env');
  const type = attrs.get('type');
  if (type === 'env') return { id, env: env ?? src ?? id };
  if (type === 'file') return { id, src: src ?? id };
  if (src === undefined && env === undefined) {
    // Like buildx: without src or env, an env var named like the id wins, else a file named like it.
    return process.env[id] !== undefined ? { id, env: id } : { id, src: id };
  }
  return { id, src, env };
}

// A secret file that is not there fails the build before it starts, as buildx does.
function checkSecretFile(secret: SecretSpec): SecretSpec {
  if (secret.src === undefined || secret.env !== undefined) return secret;
  try {
    statSync(secret.src);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UsageError(`invalid --secret id=${secret.id}: open ${path.resolve(secret.src)}: ${why}`);
  }
  return secret;
}

// -t names are checked before anything is read or run, as buildx does.
function checkTag(tag: string): string {
  let ref;
  try {
    ref = parseReference(tag);
  } catch (err) {
    const reason = (err as Error).message.replace(/^invalid reference format "[^"]*"/, 'invalid reference format');
    throw new UsageError(`invalid tag ${JSON.stringify(tag)}: ${reason}`);
  }
  if (ref.digest !== undefined) throw new UsageError(`invalid tag ${JSON.stringify(tag)}: a tag cannot name a digest`);
  return tag;
}

// buildx's `[TYPE[,TYPE]][PLATFORM]:KEY=VALUE`: only the image manifest
// (the default type) carries annotations here; a single-platform build has
// no index of its own to annotate.
function parseAnnotations(specs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid --annotation "${spec}": expected KEY=VALUE`);
    let key = spec.slice(0, eq);
    const typed = /^([a-z-]+(?:,[a-z-]+)*)(\[[^\]]*\])?:(.+)$/.exec(key);
    if (typed) {
      const types = typed[1]!.split(',');
      const unsupported = types.filter((t) => t !== 'manifest');
      if (unsupported.length > 0) throw new UsageError(`--annotation ${spec}: ${unsupported.join(', ')} annotations are not supported (only manifest)`);
      key = typed[3]!;
    }
    out.set(key, spec.slice(eq + 1));
  }
  return out;
}

// --provenance and --attest type=provenance as buildx reads them: only a
// provenance attestation is built; an SBOM is refused (off is accepted, as
// CI scripts pass it). Unlike buildx, nothing is attached unless asked.
function attestationsOf(a: ReturnType<typeof parseArgs>): Pick<BuildOptions, 'attestations'> {
  let provenance: AttestationRequest['provenance'] | null = null;
  const sbom = getString(a, 'sbom');
  if (sbom !== undefined && !['false', '0'].includes(sbom)) throw new UsageError(`--sbom=${sbom}: SBOM attestations are not supported by tsbuild (only --sbom=false; provenance is: --provenance=mode=min|max)`);
  const flag = getString(a, 'provenance');
  if (flag !== undefined) provenance = parseProvenanceFlag(flag);
  for (const spec of getList(a, 'attest')) {
    const attrs = parseCsvSpec(spec, '--attest');
    const type = attrs.get('type');
    if (type === 'provenance') provenance = provenanceFromAttrs(attrs, `--attest ${spec}`);
    else if (type === 'sbom') {
      if (attrs.get('disabled') !== 'true') throw new UsageError(`--attest ${spec}: SBOM attestations are not supported by tsbuild (only type=provenance)`);
    } else throw new UsageError(`invalid --attest "${spec}": type must be provenance or sbom`);
  }
  return provenance ? { attestations: { provenance } } : {};
}

function runResourcesOf(a: ReturnType<typeof parseArgs>): RunResources {
  const shm = getString(a, 'shm-size');
  const parent = getString(a, 'cgroup-parent');
  return {
    addHosts: getList(a, 'add-host').map(parseAddHost),
    ulimits: getList(a, 'ulimit').map(parseUlimit),
    ...(shm !== undefined ? { shmSize: parseShmSize(shm) } : {}),
    ...(parent !== undefined ? { cgroupParent: parseCgroupParent(parent) } : {}),
  };
}

/** --build-context `NAME=VALUE` → its parts, checked before the build starts; the value is read when the build resolves it (pipeline/named-contexts.ts). */
function parseBuildContext(spec: string): { name: string; value: string } {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? '' : spec.slice(0, eq);
  const value = eq < 0 ? '' : spec.slice(eq + 1);
  if (name === '' || value === '') throw new UsageError(`invalid --build-context "${spec}": expected NAME=VALUE`);
  return { name, value };
}

function parseSsh(spec: string): SshSpec {
  const eq = spec.indexOf('=');
  const id = eq < 0 ? spec : spec.slice(0, eq);
  const paths = eq < 0 ? [] : spec.slice(eq + 1).split(',').filter(Boolean);
  if (id === '') throw new UsageError(`invalid --ssh "${spec}": empty id`);
  return { id, paths };
}

export function parseCache(spec: string, flag: string): CacheSpec {
  if (!spec.includes('=')) return { type: 'registry', attrs: new Map([['ref', spec]]) };
  const attrs = parseCsvSpec(spec, flag);
  const type = attrs.get('type') ?? 'registry';
  attrs.delete('type');
  return { type, attrs };
}

function parseRuntime(value: string | undefined): BuildOptions['runtime'] {
  const v = value ?? 'native';
  if (v === 'native' || v === 'runc' || v === 'crun') return v;
  throw new UsageError(`invalid --runtime "${v}": expected native, runc or crun`);
}

function parseNetwork(value: string | undefined, allow: string[]): BuildOptions['network'] {
  const v = value ?? 'default';
  if (v !== 'default' && v !== 'none' && v !== 'host') throw new UsageError(`invalid --network "${v}": expected default, none or host`);
  if (v === 'host' && !allow.includes('network.host')) throw new UsageError('--network=host needs --allow network.host');
  return v;
}

function parseCall(value: string | undefined, check: boolean): CallMode {
  const v = check ? 'check' : (value ?? 'build');
  if (v === 'build' || v === 'outline' || v === 'targets' || v === 'check') return v;
  throw new UsageError(`invalid --call "${v}": expected build, check, outline or targets`);
}

function readDockerfile(file: string | undefined, contextDir: string): { text: string; path?: string; name: string } {
  if (file === '-') return { text: readFileSync(0, 'utf8'), name: 'Dockerfile' };
  const p = file ? path.resolve(file) : path.join(contextDir, 'Dockerfile');
  try {
    return { text: readFileSync(p, 'utf8'), path: p, name: path.basename(p) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `failed to read dockerfile: open ${p}: no such file or directory` : `failed to read dockerfile ${p}: ${(err as Error).message}`);
  }
}

/** A context that was not a local directory (stdin, URL, git), already unpacked into `dir`. */
export interface ContextOverride {
  dir: string;
  /** The input was a lone Dockerfile, not a context. */
  dockerfileText?: string;
}

export function toBuildOptions(argv: string[], env: NodeJS.ProcessEnv = process.env, remote?: ContextOverride): CliBuildRequest | 'help' {
  const a = parseArgs(argv, BUILD_FLAGS);
  if (getBool(a, 'help')) return 'help';
  if (a.positionals.length !== 1) throw new UsageError(`"tsbuild build" requires exactly 1 argument (the build context).\nUsage:  tsbuild build [OPTIONS] PATH | URL | -`);
  const contextArg = a.positionals[0]!;
  if (!remote && (contextArg === '-' || /^[a-z]+:\/\//.test(contextArg))) throw new UsageError(`tsbuild bug: context ${contextArg} was not unpacked`);
  const contextDir = remote ? remote.dir : path.resolve(contextArg);
  // Flag values are checked before anything is read.
  const runtime = parseRuntime(getString(a, 'runtime'));
  const network = parseNetwork(getString(a, 'network'), getList(a, 'allow'));
  const call = parseCall(getString(a, 'call'), getBool(a, 'check'));
  const fileArg = getString(a, 'file');
  // In a context from a tarball or git, -f names a file inside it (as docker).
  const df = remote?.dockerfileText !== undefined && fileArg === undefined
    ? { text: remote.dockerfileText, name: 'Dockerfile' }
    : readDockerfile(remote && fileArg !== undefined && fileArg !== '-' ? path.join(remote.dir, fileArg) : fileArg, contextDir);
  // As buildx: the flag, else the environment (TSBUILD_PROGRESS, then buildx's BUILDKIT_PROGRESS), else auto.
  const fromEnv = env.TSBUILD_PROGRESS ? 'TSBUILD_PROGRESS' : env.BUILDKIT_PROGRESS ? 'BUILDKIT_PROGRESS' : undefined;
  const flag = getString(a, 'progress');
  const progress = getBool(a, 'quiet') ? 'quiet' : (flag ?? (fromEnv ? env[fromEnv]! : 'auto'));
  if (!['auto', 'plain', 'tty', 'rawjson', 'quiet'].includes(progress)) {
    const source = flag === undefined && fromEnv ? fromEnv : '--progress';
    throw new UsageError(`invalid ${source} "${progress}": expected auto, plain, tty, rawjson or quiet`);
  }
  const outputs = getList(a, 'output').map(parseOutput);
  if (getBool(a, 'push')) outputs.push({ type: 'registry', attrs: new Map() });
  const build: BuildOptions = {
    storeRoot: defaultRoot(env),
    contextDir,
    dockerfilePath: df.path,
    dockerfileText: df.text,
    dockerfileName: df.name,
    tags: getList(a, 'tag').map(checkTag),
    buildArgs: parseKeyValues(getList(a, 'build-arg'), '--build-arg'),
    buildContexts: getList(a, 'build-context').map(parseBuildContext),
    runResources: runResourcesOf(a),
    annotations: parseAnnotations(getList(a, 'annotation')),
    ...attestationsOf(a),
    labels: parseKeyValues(getList(a, 'label'), '--label'),
    target: getString(a, 'target'),
    platforms: getList(a, 'platform').flatMap((p) => p.split(',')).filter(Boolean),
    noCache: getBool(a, 'no-cache'),
    noCacheFilter: getList(a, 'no-cache-filter'),
    pull: getBool(a, 'pull'),
    offline: ['1', 'true'].includes(env.TSBUILD_OFFLINE ?? ''),
    outputs,
    cacheFrom: getList(a, 'cache-from').map((s) => parseCache(s, '--cache-from')),
    cacheTo: getList(a, 'cache-to').map((s) => parseCache(s, '--cache-to')),
    allow: getList(a, 'allow'),
    runtime,
    network,
    jobs: Number(env.TSBUILD_JOBS) || os.availableParallelism(),
    sourceDateEpoch: env.SOURCE_DATE_EPOCH,
    keepStorage: env.TSBUILD_GC_KEEP_STORAGE,
  };
  return {
    build,
    call,
    progress: progress as ProgressMode,
    iidFile: getString(a, 'iidfile'),
    metadataFile: getString(a, 'metadata-file'),
    secrets: getList(a, 'secret').map(parseSecret).map(checkSecretFile),
    ssh: getList(a, 'ssh').map(parseSsh),
  };
}

export const BUILD_USAGE = `Usage:  tsbuild build [OPTIONS] PATH | URL | -

Build an image from a Dockerfile

Options:
${formatFlagHelp(BUILD_FLAGS)}
`;

/** Every context isRemoteContext() accepts starts so (stdin, URLs, git addresses). */
const MAY_BE_REMOTE = /^(-$|https?:\/\/|git@|git:\/\/|ssh:\/\/|github\.com\/)/;

/** Whether a build's context argument may name something other than a local directory (without loading the code that tells for sure). */
export function mayBeRemoteContext(arg: string): boolean {
  return MAY_BE_REMOTE.test(arg);
}

/**
 * The build the arguments ask for, given to `build` (local or through a
 * server); a context from stdin, a URL or git is unpacked into a temporary
 * directory first and removed when `build` is done.
 */
export async function withBuildRequest(argv: string[], build: (req: CliBuildRequest) => Promise<number>): Promise<number> {
  const a = parseArgs(argv, BUILD_FLAGS);
  const contextArg = a.positionals.length === 1 && !getBool(a, 'help') ? a.positionals[0]! : undefined;
  let remote: (ContextOverride & { cleanup(): Promise<void> }) | undefined;
  // Only a context that names something to fetch loads the code that
  // fetches it (git, the HTTP client, tar): a directory's build skips ~50 modules.
  if (contextArg !== undefined && mayBeRemoteContext(contextArg)) {
    const { isRemoteContext, materializeContext } = await import('../context/remote-context.js');
    if (isRemoteContext(contextArg)) {
      if (contextArg === '-' && getString(a, 'file') === '-') throw new UsageError('invalid argument: can\'t use stdin for both build context and dockerfile');
      remote = await materializeContext(contextArg);
    }
  }
  try {
    const req = toBuildOptions(argv, process.env, remote);
    if (req === 'help') {
      process.stdout.write(BUILD_USAGE);
      return 0;
    }
    return await build(req);
  } finally {
    await remote?.cleanup();
  }
}
