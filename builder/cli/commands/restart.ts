// `tsbuild restart [-t SECONDS] CONTAINER...`: stop (as `stop` does), then start.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer, startDetached, stopContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { ContainerError } from '../../containers/errors.js';
import { formatFlagHelp, getBool, getString, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { forEachRef } from '../each-ref.js';

const FLAGS: FlagSpec[] = [
  { name: 'time', short: 't', type: 'string', metavar: 'int', help: 'Seconds to wait before killing the container' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild restart [OPTIONS] CONTAINER [CONTAINER...]\n\nRestart one or more containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild restart" requires at least 1 argument: CONTAINER');
  const timeText = getString(a, 'time');
  if (timeText !== undefined && !/^-?\d+$/.test(timeText)) throw new UsageError(`invalid --time value: ${timeText}`);
  const containers = containerStoreOf(await openStore(defaultRoot()));
  return forEachRef(a.positionals, async (ref) => {
    const c = await findContainer(containers, ref);
    await stopContainer(containers, c, timeText === undefined ? c.config.stopTimeout ?? 10 : Number(timeText));
    const stopped = await findContainer(containers, ref);
    const state = await startDetached(containers, stopped);
    if (state.error) throw new ContainerError('START_FAILED', state.error);
  });
}
