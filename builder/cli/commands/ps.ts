// `tsbuild ps [-a] [-q] [--no-trunc]`: containers, like `docker ps`.
import { openStore } from '../../store/open-store.js';
import { listContainers } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { commandText, portsText, statusText } from '../../containers/format.js';
import { shortContainerId } from '../../containers/names.js';
import { formatFlagHelp, getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { formatTable, shortId, timeAgo } from '../table.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Only display container IDs' },
  { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild ps [OPTIONS]\n\nList containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild ps" accepts no arguments');
  const store = await openStore(defaultRoot());
  const all = await listContainers(containerStoreOf(store));
  const shown = getBool(a, 'all') ? all : all.filter((c) => c.state.status === 'running');
  const full = getBool(a, 'no-trunc');
  const id = (x: string) => (full ? x : shortContainerId(x));
  if (getBool(a, 'quiet')) {
    process.stdout.write(shown.map((c) => `${id(c.config.id)}\n`).join(''));
    return 0;
  }
  // an image named by id shows as its short id, as docker does
  const image = (ref: string) => (/^(sha256:)?[0-9a-f]{64}$/.test(ref) && !full ? shortId(ref) : ref);
  process.stdout.write(formatTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
    shown.map((c) => [id(c.config.id), image(c.config.image), commandText(c.config.args, full), timeAgo(c.config.created),
      statusText(c), portsText(c), c.config.name])));
  return 0;
}
