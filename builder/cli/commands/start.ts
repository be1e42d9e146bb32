// `tsbuild start [-a] [-i] CONTAINER...`: runs created or exited containers
// again (detached, under a supervisor), keeping their writable layer.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { attachToContainer } from '../../containers/attach-client.js';
import { attachSocketPath } from '../../containers/attach-protocol.js';
import { findContainer, isActive, startDetached, startForAttach } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { ContainerError } from '../../containers/errors.js';
import { formatFlagHelp, getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { forEachRef } from '../each-ref.js';

const FLAGS: FlagSpec[] = [
  { name: 'attach', short: 'a', type: 'bool', help: 'Attach STDOUT/STDERR and forward signals' },
  { name: 'interactive', short: 'i', type: 'bool', help: "Attach container's STDIN" },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild start [OPTIONS] CONTAINER [CONTAINER...]\n\nStart one or more stopped containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild start" requires at least 1 argument: CONTAINER');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  if (getBool(a, 'attach') || getBool(a, 'interactive')) {
    if (a.positionals.length > 1) throw new UsageError('you cannot start and attach multiple containers at once');
    const c = await findContainer(containers, a.positionals[0]!);
    if (isActive(c.state)) throw new ContainerError('CONTAINER_RUNNING', `container ${c.config.name} is already running`);
    await startForAttach(containers, c);
    const outcome = await attachToContainer(attachSocketPath(c.config.id), { stdin: getBool(a, 'interactive') && c.config.interactive, tty: c.config.tty === true });
    if (outcome.kind === 'exited') return outcome.report.exitCode;
    return 0;
  }
  return forEachRef(a.positionals, async (ref) => {
    const c = await findContainer(containers, ref);
    if (isActive(c.state)) return;
    const state = await startDetached(containers, c);
    if (state.error) throw new ContainerError('START_FAILED', state.error);
  });
}
