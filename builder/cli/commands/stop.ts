// `tsbuild stop [-t SECONDS] CONTAINER...`: the image's stop signal
// (SIGTERM by default), then SIGKILL after the timeout (default 10 s).
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer, stopContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { formatFlagHelp, getBool, getString, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { forEachRef } from '../each-ref.js';

const FLAGS: FlagSpec[] = [
  { name: 'time', short: 't', type: 'string', metavar: 'int', help: 'Seconds to wait before killing the container (default 10)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild stop [OPTIONS] CONTAINER [CONTAINER...]\n\nStop one or more running containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild stop" requires at least 1 argument: CONTAINER');
  const timeText = getString(a, 'time');
  if (timeText !== undefined && !/^-?\d+$/.test(timeText)) throw new UsageError(`invalid --time value: ${timeText}`);
  const containers = containerStoreOf(await openStore(defaultRoot()));
  return forEachRef(a.positionals, async (ref) => {
    const c = await findContainer(containers, ref);
    // -t, else the container's --stop-timeout, else docker's 10 s
    await stopContainer(containers, c, timeText !== undefined ? Number(timeText) : c.config.stopTimeout ?? 10);
  });
}
