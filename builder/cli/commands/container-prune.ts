// `tsbuild container prune [-f]`: removes every stopped container.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { isActive, listContainers } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { humanSize } from '../../image/inspect.js';
import { formatFlagHelp, getBool, parseArgs, type FlagSpec } from '../args.js';
import { directorySize } from '../../containers/disk-size.js';
import { confirm } from './confirm.js';

const FLAGS: FlagSpec[] = [
  { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function pruneContainers(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild container prune [OPTIONS]\n\nRemove all stopped containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (!getBool(a, 'force') && !(await confirm('WARNING! This will remove all stopped containers.'))) return 0;
  const { deleted, reclaimed } = await removeStoppedContainers();
  if (deleted.length > 0) process.stdout.write(`Deleted Containers:\n${deleted.join('\n')}\n\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

/** Removes the stopped containers (also for `system prune`): their ids and the bytes of their writable layers. */
export async function removeStoppedContainers(): Promise<{ deleted: string[]; reclaimed: number }> {
  const containers = containerStoreOf(await openStore(defaultRoot()));
  const doomed = (await listContainers(containers)).filter((c) => !isActive(c.state));
  let reclaimed = 0;
  const deleted: string[] = [];
  for (const c of doomed) {
    reclaimed += await directorySize(`${c.dir}/upper`);
    await containers.remove(c);
    deleted.push(c.config.id);
  }
  return { deleted, reclaimed };
}
