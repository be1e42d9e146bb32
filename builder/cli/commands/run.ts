// `tsbuild run [OPTIONS] IMAGE [COMMAND] [ARG...]`: like `docker run`.
// Creates a container from a local image and runs it in the sandbox, in
// the foreground (output shown, its exit code is ours) or detached (-d:
// a supervisor keeps it running; `ps`, `logs`, `stop`, `rm` manage it).
import { existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cgroupDelegation, inUserNamespace, sandboxAvailability, type SandboxResources, slirpInstalled } from '../../../runner-native/index.js';
import { cleanupStale, openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { containerStoreOf, createContainer } from '../../containers/create.js';
import { isActive, listContainers, signalContainer, startDetached, startForAttach } from '../../containers/control.js';
import { attachToContainer } from '../../containers/attach-client.js';
import { attachSocketPath } from '../../containers/attach-protocol.js';
import { ContainerError } from '../../containers/errors.js';
import { executeContainer } from '../../containers/execute.js';
import type { ContainerStore, ContainerState } from '../../containers/container-store.js';
import {
  envFromFlag, parseCpus, parseEnvFile, parseMemory, parseNetwork, parsePidsLimit, parsePorts, type ContainerRunOptions,
} from '../../containers/run-options.js';
import { parseSecurityOptions } from '../../containers/security-options.js';
import { parseRestartPolicy } from '../../containers/restart-policy.js';
import { normalizeSignal } from '../../containers/process-config.js';
import { parseSysctl } from '../../containers/privileges.js';
import { ensureImage, parsePullPolicy } from '../../containers/pull-policy.js';
import { hostPlatform } from '../../image/platform.js';
import { platformFlag } from './pull.js';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from '../../containers/mount-spec.js';
import { formatFlagHelp, getBool, getList, getString, parseArgs, type FlagSpec, type ParsedArgs } from '../args.js';
import { UsageError } from '../../errors.js';
import { isUserError } from '../report-error.js';

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
  { name: 'volume', short: 'v', type: 'list', help: 'Bind mount a host path or a volume (HOST:DIR[:ro], NAME:DIR[:ro], DIR)' },
  { name: 'mount', type: 'list', help: 'Attach a filesystem mount (type=bind|volume|tmpfs,source=..,target=..[,readonly])' },
  { name: 'tmpfs', type: 'list', help: 'Mount a tmpfs directory (DIR[:size=64m,mode=1777])' },
  { name: 'volumes-from', type: 'list', help: 'Mount volumes from the specified container(s) (CONTAINER[:ro|rw])' },
  { name: 'read-only', type: 'bool', help: "Mount the container's root filesystem as read only" },
  { name: 'hostname', short: 'h', type: 'string', help: 'Container host name' },
  { name: 'security-opt', type: 'list', help: 'Security options: seccomp=PROFILE.json|unconfined, no-new-privileges' },
  { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open (pass it to the container)' },
  { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY (detach with ctrl-p ctrl-q)' },
  { name: 'restart', type: 'string', help: 'Restart policy: no, on-failure[:max-retries], always, unless-stopped' },
  { name: 'label', short: 'l', type: 'list', help: 'Set meta data on a container (KEY=VALUE)' },
  { name: 'stop-signal', type: 'string', help: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'string', metavar: 'int', help: 'Timeout (in seconds) to stop a container' },
  { name: 'cap-add', type: 'list', help: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'list', help: 'Drop Linux capabilities' },
  { name: 'privileged', type: 'bool', help: 'Give extended privileges to this container' },
  { name: 'sysctl', type: 'list', help: 'Sysctl options (namespaced: net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*)' },
  { name: 'ulimit', type: 'list', help: 'Ulimit options (e.g. nofile=1024:2048)' },
  { name: 'shm-size', type: 'string', metavar: 'bytes', help: 'Size of /dev/shm' },
  { name: 'add-host', type: 'list', help: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'dns', type: 'list', help: 'Set custom DNS servers' },
  { name: 'publish-all', short: 'P', type: 'bool', help: 'Publish all exposed ports to random ports' },
  { name: 'expose', type: 'list', help: 'Expose a port or a range of ports' },
  { name: 'pull', type: 'string', help: 'Pull image before running ("always", "missing", "never") (default "missing")' },
  { name: 'platform', type: 'string', help: "Set platform (only the host's)" },
  { name: 'cidfile', type: 'string', help: 'Write the container ID to the file' },
  { name: 'init', type: 'bool', help: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'health-cmd', type: 'string', help: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', metavar: 'duration', help: 'Time between running the check (ms|s|m|h) (default 30s)' },
  { name: 'health-timeout', type: 'string', metavar: 'duration', help: 'Maximum time to allow one check to run (default 30s)' },
  { name: 'health-retries', type: 'string', metavar: 'int', help: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-period', type: 'string', metavar: 'duration', help: 'Start period for the container to initialize before counting retries' },
  { name: 'no-healthcheck', type: 'bool', help: 'Disable any container-specified HEALTHCHECK' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const USAGE = `Usage:  tsbuild run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`;

/** `--add-host name:ip` → an /etc/hosts line (docker's `host-gateway` has no meaning without a bridge). */
function parseAddHost(text: string): string {
  const colon = text.indexOf(':');
  const name = text.slice(0, colon);
  const ip = text.slice(colon + 1).replace(/^\[|\]$/g, '');
  if (colon <= 0 || !ip || !/^[0-9a-fA-F.:]+$/.test(ip)) throw new ContainerError('INVALID_RUN_OPTION', `invalid argument "${text}" for "--add-host" flag: expected HOST:IP`);
  return `${ip}\t${name}`;
}

/** `--platform`: only the host's own platform can run here (no emulation). */
function checkPlatform(text: string | undefined): void {
  if (text === undefined) return;
  const wanted = platformFlag(text);
  const host = hostPlatform();
  if (wanted.os !== host.os || wanted.architecture !== host.architecture) {
    throw new ContainerError('UNSUPPORTED', `image platform ${text} cannot run on this ${host.os}/${host.architecture} host (no emulation)`);
  }
}

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

// Rootless, limits hold in a cgroup v2 subtree delegated to the user;
// without one the container runs without them, and says so.
function warnUnenforcedLimits(r: SandboxResources): void {
  if (!inUserNamespace() || Object.keys(r).length === 0) return;
  const delegation = cgroupDelegation();
  if (!delegation.ok) {
    process.stderr.write(`WARNING: rootless mode: --memory, --cpus and --pids-limit are not enforced (no delegated cgroup v2 subtree: ${delegation.reason})\n`);
    return;
  }
  if (r.cpu && !delegation.controllers.includes('cpu')) {
    delete r.cpu;
    process.stderr.write(`WARNING: rootless mode: --cpus is not enforced (the cpu controller is not delegated to ${delegation.dir})\n`);
  }
}

async function runOptions(a: ParsedArgs): Promise<ContainerRunOptions> {
  const [image, ...command] = a.positionals;
  if (!image) throw new UsageError('"tsbuild run" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  const env: string[] = [];
  // docker reads env files first, then -e, so -e wins
  for (const file of getList(a, 'env-file')) {
    const text = await readFile(file, 'utf8').catch((err: Error) => { throw new ContainerError('INVALID_RUN_OPTION', `open ${file}: ${err.message}`); });
    env.push(...parseEnvFile(text, process.env, file));
  }
  for (const e of getList(a, 'env')) env.push(envFromFlag(e, process.env));
  const network = parseNetwork(getString(a, 'network') ?? getString(a, 'net') ?? 'private');
  const ports = getList(a, 'publish').flatMap(parsePorts);
  if (network === 'host' && ports.length > 0) process.stderr.write('WARNING: Published ports are discarded when using host network mode\n');
  const restart = getString(a, 'restart');
  const restartPolicy = restart === undefined ? undefined : parseRestartPolicy(restart);
  if (restartPolicy && restartPolicy.name !== 'no' && getBool(a, 'rm')) {
    throw new ContainerError('INVALID_RUN_OPTION', 'conflicting options: cannot specify both --restart and --rm');
  }
  const stopTimeout = getString(a, 'stop-timeout');
  if (stopTimeout !== undefined && !/^-?\d+$/.test(stopTimeout)) throw new ContainerError('INVALID_RUN_OPTION', `invalid --stop-timeout: '${stopTimeout}'`);
  const stopSignal = getString(a, 'stop-signal');
  return {
    image,
    command,
    restartPolicy,
    privileges: {
      capAdd: getList(a, 'cap-add'), capDrop: getList(a, 'cap-drop'), privileged: getBool(a, 'privileged'),
      sysctls: Object.fromEntries(getList(a, 'sysctl').map(parseSysctl)),
      ulimits: getList(a, 'ulimit'), shmSize: getString(a, 'shm-size'),
    },
    extraHosts: getList(a, 'add-host').map(parseAddHost),
    dns: getList(a, 'dns'),
    publishAll: getBool(a, 'publish-all'),
    init: getBool(a, 'init'),
    expose: getList(a, 'expose'),
    health: {
      cmd: getString(a, 'health-cmd'), interval: getString(a, 'health-interval'), timeout: getString(a, 'health-timeout'),
      retries: getString(a, 'health-retries'), startPeriod: getString(a, 'health-start-period'), none: getBool(a, 'no-healthcheck'),
    },
    labels: Object.fromEntries(getList(a, 'label').map((l) => [l.split('=')[0]!, l.includes('=') ? l.slice(l.indexOf('=') + 1) : ''])),
    ...(stopSignal !== undefined ? { stopSignal: normalizeSignal(stopSignal) } : {}),
    ...(stopTimeout !== undefined ? { stopTimeout: Number(stopTimeout) } : {}),
    entrypoint: getString(a, 'entrypoint'),
    env,
    workdir: getString(a, 'workdir'),
    user: getString(a, 'user'),
    hostname: getString(a, 'hostname'),
    name: getString(a, 'name'),
    autoRemove: getBool(a, 'rm'),
    detach: getBool(a, 'detach'),
    interactive: getBool(a, 'interactive'),
    tty: getBool(a, 'tty'),
    readOnly: getBool(a, 'read-only'),
    network,
    ports,
    mounts: [
      ...getList(a, 'volume').map((v) => parseVolumeFlag(v)),
      ...getList(a, 'mount').map((m) => parseMountFlag(m)),
      ...getList(a, 'tmpfs').map((m) => parseTmpfsFlag(m)),
    ],
    volumesFrom: getList(a, 'volumes-from'),
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
  checkPlatform(getString(a, 'platform'));
  const pull = parsePullPolicy(getString(a, 'pull') ?? 'missing');
  const cidfile = getString(a, 'cidfile');
  if (cidfile !== undefined && existsSync(cidfile)) throw new ContainerError('INVALID_RUN_OPTION', `container ID file found, make sure the other container isn't running or delete ${cidfile}`);
  warnUnenforcedLimits(opts.resources);
  const availability = await sandboxAvailability();
  if (!availability.ok) throw new ContainerError('START_FAILED', `cannot run containers here: ${availability.reason}`);
  const store = await openStore(defaultRoot());
  await cleanupStale(store);
  const containers = containerStoreOf(store);
  // whatever a kill -9ed supervisor left behind is tidied before we add to it
  await listContainers(containers);
  await ensureImage(store, opts.image, pull);
  const c = await createContainer(store, opts);
  if (cidfile !== undefined) writeFileSync(cidfile, c.config.id, { flag: 'wx' });

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

  if (opts.tty) return runAttached(containers, c.config.id, opts.interactive);

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

/**
 * `run -t`: the supervisor owns the container (so ctrl-p ctrl-q can leave
 * it running) and we attach to it; the exit code comes over the socket.
 */
async function runAttached(containers: ContainerStore, id: string, interactive: boolean): Promise<number> {
  const c = await containers.load(id);
  if (!c) throw new ContainerError('START_FAILED', 'the container vanished before it started');
  await startForAttach(containers, c);
  const outcome = await attachToContainer(attachSocketPath(id), { stdin: interactive, tty: true });
  if (outcome.kind === 'detached') return 0;
  if (outcome.kind === 'lost') {
    const now = await containers.load(id);
    return now?.state.exitCode ?? 125;
  }
  if (outcome.report.error) process.stderr.write(`ERROR: ${outcome.report.error}\n`);
  return outcome.report.exitCode;
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
