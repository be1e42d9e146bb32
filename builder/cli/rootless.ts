// Rootless mode for the CLI: a user's tsbuild re-executes itself as root of
// a user namespace (see runner-native/user-namespace.ts), where it can mount
// overlays, chown to any mapped id and start sandboxes. Store files written
// in there belong to the user (container root) or to the user's subordinate
// ids, so commands that change or walk snapshots go in too; commands that
// only read the store's metadata run as the user, with no prerequisites.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { constants, userInfo } from 'node:os';
import { checkRootless, defaultHelperPath } from '../../runner-native/index.js';
import { defaultRoot } from './store-root.js';

// Commands that cannot work without the namespace (they mount and run).
const NEEDS_NAMESPACE = new Set(['build', 'run']);
// Commands that read metadata only: never worth a namespace.
const AS_USER = new Set(['images', 'inspect', 'history', 'tag', 'login', 'logout', 'logs', 'ps', 'debug',
  // exec joins the user namespace of the container's `run` (helper/exec.c), not a new one
  'exec']);

function writable(dir: string): boolean {
  try {
    accessSync(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The exit code of the command run inside the namespace, or undefined: run it here. */
export async function enterUserNamespaceIfNeeded(command: string, args: string[]): Promise<number | undefined> {
  if (process.getuid?.() !== undefined && process.getuid() === 0) return undefined;
  if (AS_USER.has(command) || args.includes('--help') || args.includes('-h')) return undefined;
  const check = checkRootless();
  if (!check.ok) {
    if (!NEEDS_NAMESPACE.has(command)) return undefined;
    process.stderr.write(`ERROR: rootless ${command}: ${check.reason}\n`);
    return command === 'run' ? 125 : 1;
  }
  // Inside, the process is root: the store must stay the user's.
  const root = defaultRoot();
  if (existsSync(root) && !writable(root)) {
    process.stderr.write(`ERROR: the store ${root} is not writable by user ${userInfo().username}: unset TSBUILD_ROOT to use ~/.local/share/tsbuild, or point it at a folder of yours\n`);
    return command === 'run' ? 125 : 1;
  }
  const helper = defaultHelperPath();
  const argv = ['userns', check.maps.uidMap, check.maps.gidMap, '--', process.execPath, ...process.execArgv, process.argv[1]!, command, ...args];
  const env: NodeJS.ProcessEnv = { ...process.env, TSBUILD_ROOT: root };
  // Sockets systemd passed to this process (`serve --addr fd://`) go on to
  // the one in the namespace, at the same descriptors; LISTEN_PID would
  // name this process, so the count travels as TSBUILD_LISTEN_FDS.
  const activated = process.env.LISTEN_PID === String(process.pid) ? Number(process.env.LISTEN_FDS) || 0 : 0;
  if (activated > 0) {
    delete env.LISTEN_PID;
    delete env.LISTEN_FDS;
    env.TSBUILD_LISTEN_FDS = String(activated);
  }
  const stdio = ['inherit', 'inherit', 'inherit', ...Array.from({ length: activated }, (_, i) => 3 + i)] as ('inherit' | number)[];
  return new Promise((resolve) => {
    const child = spawn(helper, argv, { stdio, env });
    // Signals go to the helper, which passes them on (a terminal's Ctrl-C,
    // which the namespace's processes got too, only once); this process
    // waits for the exit status.
    const pass = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers: [NodeJS.Signals, () => void][] = [['SIGINT', pass('SIGINT')], ['SIGTERM', pass('SIGTERM')], ['SIGHUP', pass('SIGHUP')]];
    for (const [sig, h] of handlers) process.on(sig, h);
    child.on('error', (err) => {
      process.stderr.write(`ERROR: cannot start ${helper} for rootless mode: ${err.message} (run \`npm run build\`)\n`);
      resolve(command === 'run' ? 125 : 1);
    });
    child.on('close', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 1));
    });
  });
}
