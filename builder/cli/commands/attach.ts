// `tsbuild attach CONTAINER`: our terminal to a running container's
// stdin/stdout (its pty with -t), until it ends or ctrl-p ctrl-q.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { attachToContainer } from '../../containers/attach-client.js';
import { attachSocketPath } from '../../containers/attach-protocol.js';
import { findContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { ContainerError } from '../../containers/errors.js';
import { formatFlagHelp, getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';

const FLAGS: FlagSpec[] = [
  { name: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild attach [OPTIONS] CONTAINER\n\nAttach local standard input, output, and error streams to a running container\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length !== 1) throw new UsageError('"tsbuild attach" requires exactly 1 argument: CONTAINER');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  const c = await findContainer(containers, a.positionals[0]!);
  if (c.state.status !== 'running') throw new ContainerError('CONTAINER_NOT_RUNNING', 'You cannot attach to a stopped container, start it first');
  const outcome = await attachToContainer(attachSocketPath(c.config.id), {
    stdin: c.config.interactive && !getBool(a, 'no-stdin'), tty: c.config.tty === true, connectTimeoutMs: 2000,
  });
  if (outcome.kind === 'exited') return outcome.report.exitCode;
  if (outcome.kind === 'detached') return 0;
  return (await containers.load(c.config.id))?.state.exitCode ?? 0;
}
