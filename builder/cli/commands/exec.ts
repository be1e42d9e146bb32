// `tsbuild exec [-i] [-t] [-u USER] [-w DIR] [-e K=V] CONTAINER COMMAND [ARG...]`:
// runs one more process in a running container, like `docker exec`; its
// exit code is ours. With -t it gets a pty (our terminal goes raw).
import { PassThrough } from 'node:stream';
import { execInContainer, type SandboxProcess } from '../../../runner-native/index.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { ContainerError } from '../../containers/errors.js';
import { execProcess, liveRootOf } from '../../containers/exec-process.js';
import { exitCodeOf, exitCodeOfError } from '../../containers/execute.js';
import { withRawTerminal } from '../../containers/raw-terminal.js';
import { envFromFlag } from '../../containers/run-options.js';
import { formatFlagHelp, getBool, getList, getString, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { isUserError } from '../report-error.js';

const FLAGS: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open' },
  { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
  { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
  { name: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
  { name: 'detach', short: 'd', type: 'bool', help: 'Detached mode (not supported)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

async function execute(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS, { stopAtFirstPositional: true });
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nExecute a command in a running container\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  const [ref, ...command] = a.positionals;
  if (!ref || command.length === 0) throw new UsageError('"tsbuild exec" requires at least 2 arguments: CONTAINER COMMAND [ARG...]');
  if (getBool(a, 'detach')) throw new ContainerError('UNSUPPORTED', 'exec -d is not supported: run the command in the background inside the container instead (sh -c "cmd &")');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  const c = await findContainer(containers, ref);
  liveRootOf(c);
  const tty = getBool(a, 'tty');
  const interactive = getBool(a, 'interactive');
  const proc: SandboxProcess = await execProcess(c, {
    command, tty, env: getList(a, 'env').map((e) => envFromFlag(e, process.env)), user: getString(a, 'user'), workdir: getString(a, 'workdir'),
  });
  const resize = tty ? new PassThrough() : undefined;
  const sendSize = () => { if (process.stdout.rows && process.stdout.columns) resize?.write(`${process.stdout.rows} ${process.stdout.columns}\n`); };
  if (tty) process.stdout.on('resize', sendSize);
  try {
    const result = await withRawTerminal(tty && interactive, () => execInContainer(
      { initPid: c.state.init!.pid, cgroupsPath: c.config.spec.linux.cgroupsPath!, seccomp: c.config.spec.linux.seccomp },
      proc,
      { stdin: interactive ? 'inherit' : 'ignore', stdout: 'inherit', stderr: 'inherit', resize },
    ));
    return exitCodeOf(result);
  } catch (err) {
    const code = exitCodeOfError(err);
    if (code === 125) throw err;
    process.stderr.write(`ERROR: ${(err as Error).message}\n`);
    return code;
  } finally {
    process.stdout.off('resize', sendSize);
    resize?.end();
  }
}

export async function run(argv: string[]): Promise<number> {
  try {
    return await execute(argv);
  } catch (err) {
    if (isUserError(err)) process.stderr.write(`ERROR: ${err.message}\n`);
    else process.stderr.write(`tsbuild: internal error (this is a bug in tsbuild):\n${(err as Error)?.stack ?? String(err)}\n`);
    return 125;
  }
}
