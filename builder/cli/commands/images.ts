// `tsbuild images`: the local store's images, like `docker images`.
import { parseArgs, getBool, formatFlagHelp, type FlagSpec } from '../args.js';
import { formatTable, shortId, timeAgo } from '../table.js';
import { humanSize } from '../../image/inspect.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
  { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild images [OPTIONS] [REPOSITORY[:TAG]]\n\nList images\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  const store = await openStore(defaultRoot());
  let rows = await store.images.list();
  const filter = a.positionals[0];
  if (filter) rows = rows.filter((r) => r.repository === filter.split(':')[0] && (!filter.includes(':') || r.tag === filter.split(':')[1]));
  const id = (d: string) => (getBool(a, 'no-trunc') ? d : shortId(d));
  if (getBool(a, 'quiet')) {
    process.stdout.write([...new Set(rows.map((r) => id(r.id)))].map((l) => l + '\n').join(''));
    return 0;
  }
  process.stdout.write(formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
    rows.map((r) => [r.repository, r.tag, id(r.id), timeAgo(r.created), humanSize(r.size)])));
  return 0;
}
