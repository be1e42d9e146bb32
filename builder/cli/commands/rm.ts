// `tsbuild rm [-f] CONTAINER...`: removes containers (their writable
// layer and logs); a running one only with -f, which kills it first.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer, removeContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { formatFlagHelp, getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { forEachRef } from '../each-ref.js';

const FLAGS: FlagSpec[] = [
  { name: 'force', short: 'f', type: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
  { name: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes associated with the container' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild rm [OPTIONS] CONTAINER [CONTAINER...]\n\nRemove one or more containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild rm" requires at least 1 argument: CONTAINER');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  return forEachRef(a.positionals, async (ref) => removeContainer(containers, await findContainer(containers, ref), getBool(a, 'force'), getBool(a, 'volumes')));
}
