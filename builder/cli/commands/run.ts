// `tsbuild run [OPTIONS] IMAGE [COMMAND] [ARG...]`: like `docker run`.
// Creates a container from a local image and runs it in the sandbox, in
// the foreground (output shown, its exit code is ours) or detached (-d:
// a supervisor keeps it running; `ps`, `logs`, `stop`, `rm` manage it).
import { readFile } from 'node:fs/promises';
import { sandboxAvailability, type SandboxResources, slirpInstalled } from '../../../runner-native/index.js';
import { cleanupStale, openStore } from '../../store/open-store.js';
import { containerStoreOf, createContainer } from '../../containers/create.js';
import { isActive, listContainers, signalContainer, startDetached } from '../../containers/control.js';
import { ContainerError } from '../../containers/errors.js';
import { executeContainer } from '../../containers/execute.js';
import type { ContainerStore, ContainerState } from '../../containers/container-store.js';
import {
  envFromFlag, parseCpus, parseEnvFile, parseMemory, parseNetwork, parsePidsLimit, parsePort, parseVolume, type ContainerRunOptions,
} from '../../containers/run-options.js';
import { parseSecurityOptions } from '../../containers/security-options.js';
import { formatFlagHelp, getBool, getList, getString, parseArgs, type FlagSpec, type ParsedArgs } from '../args.js';
import { UsageError } from '../../errors.js';
import { isUserError } from '../report-error.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', help: 'Run container in background and print container ID' },
  { name: 'rm', type: 'bool', help: 'Automatically remove the container when it exits' },
  { name: 'name', type: 'string', help: 'Assign a name to the container' },
  { name: 'env', short: 'e', type: 'list', help: 'Set environment variables (K=V, or K to take it from this environment)' },
  { name: 'env-file', type: 'list', metavar: 'file', help: 'Read in a file of environment variables' },
  { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
  { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'entrypoint', type: 'string', help: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'memory', short: 'm', type: 'string', metavar: 'bytes', help: 'Memory limit (e.g. 512m, 1g)' },
  { name: 'cpus', type: 'string', metavar: 'decimal', help: 'Number of CPUs (e.g. 0.5)' },
  { name: 'pids-limit', type: 'string', metavar: 'int', help: 'Tune container pids limit (-1 for unlimited)' },
  { name: 'network', type: 'string', help: 'none | host | private (default; "bridge" means private)' },
  { name: 'net', type: 'string', help: 'Alias of --network' },
  { name: 'publish', short: 'p', type: 'list', help: "Publish a container's port to the host ([IP:]HOST:CONTAINER[/tcp])" },
  { name: 'volume', short: 'v', type: 'list', help: 'Bind mount a host directory (HOSTDIR:DIR[:ro])' },
  { name: 'read-only', type: 'bool', help: "Mount the container's root filesystem as read only" },
  { name: 'hostname', short: 'h', type: 'string', help: 'Container host name' },
  { name: 'security-opt', type: 'list', help: 'Security options: seccomp=PROFILE.json|unconfined, no-new-privileges' },
  { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open (pass it to the container)' },
  { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY (not supported yet)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const USAGE = `Usage:  tsbuild run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`;

async function resources(a: ParsedArgs): Promise<SandboxResources> {
  const r: SandboxResources = {};
  const memory = getString(a, 'memory');
  // no swap beyond the limit: `--memory 64m` means 64m, whatever the host's swap
  if (memory !== undefined) { const limit = parseMemory(memory); r.memory = { limit, swap: limit }; }
  const cpus = getString(a, 'cpus');
  if (cpus !== undefined) r.cpu = parseCpus(cpus);
  const pids = getString(a, 'pids-limit');
  if (pids !== undefined) { const limit = parsePidsLimit(pids); if (limit > 0) r.pids = { limit }; }
  return r;
}

async function runOptions(a: ParsedArgs): Promise<ContainerRunOptions> {
  const [image, ...command] = a.positionals;
  if (!image) throw new UsageError('"tsbuild run" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  if (getBool(a, 'tty')) {
    throw new ContainerError('UNSUPPORTED', '-t/--tty: pseudo-terminals are not supported yet; run without -t (-i passes stdin through)');
  }
  const env: string[] = [];
  // docker reads env files first, then -e, so -e wins
  for (const file of getList(a, 'env-file')) {
    const text = await readFile(file, 'utf8').catch((err: Error) => { throw new ContainerError('INVALID_RUN_OPTION', `open ${file}: ${err.message}`); });
    env.push(...parseEnvFile(text, process.env, file));
  }
  for (const e of getList(a, 'env')) env.push(envFromFlag(e, process.env));
  const network = parseNetwork(getString(a, 'network') ?? getString(a, 'net') ?? 'private');
  const ports = getList(a, 'publish').map(parsePort);
  if (network === 'host' && ports.length > 0) process.stderr.write('WARNING: Published ports are discarded when using host network mode\n');
  return {
    image,
    command,
    entrypoint: getString(a, 'entrypoint'),
    env,
    workdir: getString(a, 'workdir'),
    user: getString(a, 'user'),
    hostname: getString(a, 'hostname'),
    name: getString(a, 'name'),
    autoRemove: getBool(a, 'rm'),
    detach: getBool(a, 'detach'),
    interactive: getBool(a, 'interactive'),
    readOnly: getBool(a, 'read-only'),
    network,
    ports,
    volumes: getList(a, 'volume').map((v) => parseVolume(v)),
    resources: await resources(a),
    security: await parseSecurityOptions(getList(a, 'security-opt')),
  };
}

function reportStartError(state: ContainerState): void {
  if (state.error) process.stderr.write(`ERROR: ${state.error}\n`);
}

/**
 * Signals to `tsbuild run` go to the container (docker's --sig-proxy): the
 * first Ctrl-C is forwarded to its init; a PID 1 without a handler ignores
 * it (as under Docker), so a second Ctrl-C kills the container.
 */
function proxySignals(containers: ContainerStore, id: string, kill: AbortController): () => void {
  let forwarded = 0;
  const handler = (sig: NodeJS.Signals) => {
    forwarded++;
    if (forwarded > 1) {
      kill.abort();
      return;
    }
    void containers.load(id).then((c) => {
      if (c) signalContainer(c, sig);
      // only a container that ignores the signal needs the hint
      setTimeout(() => void containers.load(id).then((now) => {
        if (now && isActive(now.state)) process.stderr.write(`\ntsbuild: sent ${sig} to the container; press Ctrl-C again to kill it\n`);
      }), 1000).unref();
    });
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, handler);
  return () => { for (const s of signals) process.off(s, handler); };
}

async function runContainer(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS, { stopAtFirstPositional: true });
  if (getBool(a, 'help')) { process.stdout.write(USAGE); return 0; }
  const opts = await runOptions(a);
  const availability = await sandboxAvailability();
  if (!availability.ok) throw new ContainerError('START_FAILED', `cannot run containers here: ${availability.reason}`);
  const store = await openStore(defaultRoot());
  await cleanupStale(store);
  const containers = containerStoreOf(store);
  // whatever a kill -9ed supervisor left behind is tidied before we add to it
  await listContainers(containers);
  const c = await createContainer(store, opts);

  if (opts.detach) {
    if (opts.network === 'private' && !slirpInstalled()) {
      process.stderr.write('tsbuild: slirp4netns is not installed: the container gets loopback only, no outbound network\n');
    }
    const state = await startDetached(containers, c);
    if (state.error) {
      reportStartError(state);
      return state.exitCode ?? 125;
    }
    process.stdout.write(`${c.config.id}\n`);
    return 0;
  }

  const kill = new AbortController();
  const restoreSignals = proxySignals(containers, c.config.id, kill);
  try {
    const state = await executeContainer(containers, c, {
      stdin: opts.interactive ? 'inherit' : 'ignore',
      onStdout: (chunk) => process.stdout.write(chunk),
      onStderr: (chunk) => process.stderr.write(chunk),
      signal: kill.signal,
      notice: (message) => process.stderr.write(`tsbuild: ${message}\n`),
    });
    reportStartError(state);
    return state.exitCode ?? 125;
  } finally {
    restoreSignals();
  }
}

/** Exit codes as docker's: the command's own; 125 when tsbuild itself failed. */
export async function run(argv: string[]): Promise<number> {
  try {
    return await runContainer(argv);
  } catch (err) {
    if (isUserError(err)) process.stderr.write(`ERROR: ${err.message}\n`);
    else process.stderr.write(`tsbuild: internal error (this is a bug in tsbuild):\n${(err as Error)?.stack ?? String(err)}\n`);
    return 125;
  }
}
