// `tsbuild history IMAGE`: one row per history entry, newest first, like docker history.
import { parseArgs, getBool, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { formatTable, shortId, timeAgo } from '../table.js';
import { historyOf, humanSize } from '../../image/inspect.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild history [OPTIONS] IMAGE\n\nShow the history of an image\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length !== 1) throw new UsageError('"tsbuild history" requires exactly 1 argument');
  const store = await openStore(defaultRoot());
  const rows = await historyOf(store.content, store.images, a.positionals[0]);
  const noTrunc = getBool(a, 'no-trunc');
  if (getBool(a, 'quiet')) { process.stdout.write(rows.map((r) => (noTrunc || r.id === '<missing>' ? r.id : shortId(r.id)) + '\n').join('')); return 0; }
  const createdBy = (s: string) => (noTrunc || s.length <= 45 ? s : s.slice(0, 44) + '…');
  process.stdout.write(formatTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
    rows.map((r) => [r.id === '<missing>' || noTrunc ? r.id : shortId(r.id), timeAgo(r.created), createdBy(r.createdBy), humanSize(r.size), r.comment])));
  return 0;
}
