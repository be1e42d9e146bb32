// The `tsbuild` entry point. Subcommands are imported lazily so that
// `tsbuild --version` and `--help` load almost nothing, and a command only
// its own modules (each import() is a split point of the CLI bundle).
import { version } from './version.js';
import { reportError } from './report-error.js';
import { HOST_HELP_NOTE, mayUseServer, runIfRemote } from './remote-entry.js';
import { expandCommandAlias } from './command-aliases.js';
import { endQuietlyWhenStdoutGoes } from './stdout-gone.js';

interface Command {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
  build: { summary: 'Build an image from a Dockerfile', load: () => import('./commands/build.js') },
  run: { summary: 'Run a command in a new container', load: () => import('./commands/run.js') },
  exec: { summary: 'Execute a command in a running container', load: () => import('./commands/exec.js') },
  attach: { summary: 'Attach to a running container', load: () => import('./commands/attach.js') },
  start: { summary: 'Start one or more stopped containers', load: () => import('./commands/start.js') },
  restart: { summary: 'Restart one or more containers', load: () => import('./commands/restart.js') },
  kill: { summary: 'Kill one or more running containers', load: () => import('./commands/kill.js') },
  wait: { summary: 'Block until one or more containers stop, then print their exit codes', load: () => import('./commands/wait.js') },
  port: { summary: 'List port mappings or a specific mapping for the container', load: () => import('./commands/port.js') },
  top: { summary: 'Display the running processes of a container', load: () => import('./commands/top.js') },
  stats: { summary: 'Display a live stream of container(s) resource usage statistics', load: () => import('./commands/stats.js') },
  rename: { summary: 'Rename a container', load: () => import('./commands/rename.js') },
  cp: { summary: 'Copy files/folders between a container and the local filesystem', load: () => import('./commands/cp.js') },
  image: { summary: 'Manage images (ls, inspect, rm, prune, ...)', load: async () => (await import('./commands/management.js')).managementCommand('image', 'Manage images', { prune: async () => (await import('./commands/image-prune.js')).pruneImages }) },
  builder: { summary: 'Manage builds (build, prune)', load: async () => (await import('./commands/management.js')).managementCommand('builder', 'Manage builds') },
  buildx: { summary: "docker buildx's spellings (build, du, prune)", load: async () => (await import('./commands/management.js')).managementCommand('buildx', "docker buildx's spellings of tsbuild's commands") },
  system: { summary: 'Manage tsbuild (df, info, prune)', load: async () => (await import('./commands/management.js')).managementCommand('system', 'Manage tsbuild', { prune: async () => (await import('./commands/system-prune.js')).pruneSystem }) },
  container: { summary: 'Manage containers (ls, inspect, prune, ...)', load: () => import('./commands/container.js') },
  volume: { summary: 'Manage volumes (create, ls, inspect, rm, prune)', load: () => import('./commands/volume.js') },
  ps: { summary: 'List containers', load: () => import('./commands/ps.js') },
  logs: { summary: 'Fetch the logs of a container', load: () => import('./commands/logs.js') },
  stop: { summary: 'Stop one or more running containers', load: () => import('./commands/stop.js') },
  rm: { summary: 'Remove one or more containers', load: () => import('./commands/rm.js') },
  images: { summary: 'List images', load: () => import('./commands/images.js') },
  inspect: { summary: 'Display detailed information on images', load: () => import('./commands/inspect.js') },
  history: { summary: 'Show the history of an image', load: () => import('./commands/history.js') },
  pull: { summary: 'Download an image from a registry', load: () => import('./commands/pull.js') },
  push: { summary: 'Upload an image to a registry', load: () => import('./commands/push.js') },
  login: { summary: 'Log in to a registry', load: () => import('./commands/login.js') },
  logout: { summary: 'Log out from a registry', load: () => import('./commands/logout.js') },
  tag: { summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', load: () => import('./commands/tag.js') },
  rmi: { summary: 'Remove one or more images', load: () => import('./commands/rmi.js') },
  save: { summary: 'Save one or more images to a tar archive', load: () => import('./commands/save.js') },
  load: { summary: 'Load an image from a tar archive', load: () => import('./commands/load.js') },
  import: { summary: 'Import the contents from a tarball to create a filesystem image', load: () => import('./commands/import.js') },
  du: { summary: 'Show disk usage of the store and the build cache', load: () => import('./commands/du.js') },
  prune: { summary: 'Remove build cache and unused data', load: () => import('./commands/prune.js') },
  info: { summary: 'Display how tsbuild runs here (store, rootless, snapshotter)', load: () => import('./commands/info.js') },
  debug: { summary: 'Debugging tools (debug parse)', load: () => import('./commands/debug.js') },
  serve: { summary: 'Run a build server for clients using --host', load: () => import('./commands/serve.js') },
};

export { version };

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return [
    'Usage:  tsbuild [OPTIONS] COMMAND',
    '',
    'A daemonless Dockerfile image builder',
    '',
    'Options:',
    '  -v, --version   Print version information and quit',
    '  -h, --help      Print usage',
    '  -H, --host      Server to use (unix://, tcp://, ssh://; env TSBUILD_HOST): build and the store',
    '                  commands (images, inspect, history, tag, rmi, push, pull, du, prune) run there;',
    '                  run, ps, logs, stop, rm, save, load, import, login stay local',
    '  --tlsverify, --tlscacert, --tlscert, --tlskey   TLS for tcp:// hosts',
    '  --ssh-identity, --ssh-accept-new-host-key, --ssh-command   for ssh:// hosts',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'tsbuild COMMAND --help' for more information on a command.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  if (mayUseServer(argv)) {
    const outcome = await runIfRemote(argv, version());
    if ('code' in outcome) return outcome.code;
    const [first, ...rest] = outcome.local;
    if (!outcome.helpNote || first === undefined || !Object.hasOwn(COMMANDS, first)) return runLocal(first, rest);
    const code = await runLocal(first, rest);
    process.stdout.write(HOST_HELP_NOTE(first));
    return code;
  }
  const [first, ...rest] = argv;
  return runLocal(first, rest);
}

const STREAMS_STDOUT_ITS_OWN_WAY = new Set(['build', 'run', 'exec', 'start', 'attach']);

async function runLocal(name: string | undefined, args: string[]): Promise<number> {
  const [first, ...rest] = name === undefined ? [] : expandCommandAlias([name, ...args]);
  if (first === '--version' || first === '-v' || first === 'version') {
    process.stdout.write(`tsbuild version ${version()}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!command) {
    process.stderr.write(`tsbuild: '${first}' is not a tsbuild command.\nSee 'tsbuild --help'\n`);
    return 1;
  }
  try {
    // A user (not root) runs most commands as root of a user namespace.
    // Root never does: it does not even load that code (the sandbox
    // runtime, child_process, net), which a cached build never needs.
    if (process.getuid?.() !== 0) {
      const { enterUserNamespaceIfNeeded } = await import('./rootless.js');
      const inside = await enterUserNamespaceIfNeeded(first, rest);
      if (inside !== undefined) return inside;
    }
    // TSBUILD_SNAPSHOTTER forces overlayfs, fuse-overlayfs or native-copy (default: the first that works).
    if (process.env.TSBUILD_SNAPSHOTTER) (await import('../snapshots/snapshotter.js')).setSnapshotterPreference(process.env.TSBUILD_SNAPSHOTTER);
    // TSBUILD_HOST_LOOPBACK=1: RUN and containers reach the host's 127.0.0.1 at 10.0.2.2 (slirp4netns).
    if (process.env.TSBUILD_HOST_LOOPBACK === '1') (await import('../../runner-native/index.js')).allowSlirpHostLoopback(true);
    // Not for a build or a container's run: their start stays free of
    // stdout's set-up (a pipe's loads net), and a container's output does
    // not go through this process's stdout.
    if (!STREAMS_STDOUT_ITS_OWN_WAY.has(first)) endQuietlyWhenStdoutGoes();
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    return await reportError(err);
  }
}
