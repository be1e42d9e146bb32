// `tsbuild rename CONTAINER NEW_NAME`.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';

const FLAGS: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'Print usage' }];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild rename CONTAINER NEW_NAME\n\nRename a container\n'); return 0; }
  if (a.positionals.length !== 2) throw new UsageError('"tsbuild rename" requires exactly 2 arguments: CONTAINER NEW_NAME');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  await containers.rename(await findContainer(containers, a.positionals[0]!), a.positionals[1]!.replace(/^\//, ''));
  return 0;
}
