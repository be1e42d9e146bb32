// `tsbuild kill [-s SIGNAL] CONTAINER...`: a signal to the container's init
// (SIGKILL by default, which ends the container and any restart policy).
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer, killContainer, signalContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { ContainerError } from '../../containers/errors.js';
import { normalizeSignal } from '../../containers/process-config.js';
import { formatFlagHelp, getBool, getString, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { forEachRef } from '../each-ref.js';

const FLAGS: FlagSpec[] = [
  { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container (default KILL)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild kill [OPTIONS] CONTAINER [CONTAINER...]\n\nKill one or more running containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild kill" requires at least 1 argument: CONTAINER');
  const signal = normalizeSignal(getString(a, 'signal') ?? 'KILL');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  return forEachRef(a.positionals, async (ref) => {
    const c = await findContainer(containers, ref);
    if (c.state.status !== 'running') throw new ContainerError('CONTAINER_NOT_RUNNING', `cannot kill container: ${ref}: container ${c.config.name} is not running`);
    if (signal === 'SIGKILL' || signal === '9') await killContainer(containers, c);
    else if (!signalContainer(c, signal)) throw new ContainerError('CONTAINER_NOT_RUNNING', `cannot kill container: ${ref}: container ${c.config.name} is not running`);
  });
}
