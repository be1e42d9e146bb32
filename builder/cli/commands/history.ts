// `tsbuild history [-q] [-H] [--no-trunc] [--format T] IMAGE`: one row per history entry, newest first, like docker history.
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { shortId, timeAgo } from '../table.js';
import { historyOf, humanSize } from '../../image/inspect.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { formatRows } from '../format-output.js';
import { goTime } from './ps.js';

const FLAGS: FlagSpec[] = [
  { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
  { name: 'human', short: 'H', type: 'bool', help: 'Print sizes and dates in human readable format (default true)' },
  { name: 'format', type: 'string', help: 'Format output using a Go template, "table ...", or "json"' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };
const DEFAULT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild history [OPTIONS] IMAGE\n\nShow the history of an image\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length !== 1) throw new UsageError('"tsbuild history" requires exactly 1 argument');
  const format = getString(a, 'format');
  if (format !== undefined) formatRows(format, [], HEADERS);
  const store = await openStore(defaultRoot());
  const rows = await historyOf(store.content, store.images, a.positionals[0]!);
  const noTrunc = getBool(a, 'no-trunc');
  const id = (x: string) => (x === '<missing>' || noTrunc ? x : shortId(x));
  if (getBool(a, 'quiet')) { process.stdout.write(rows.map((r) => `${id(r.id)}\n`).join('')); return 0; }
  // As docker's history formatter: a tab in the command (a LABEL's value, say) shows as a space, the config keeps it.
  const createdBy = (raw: string) => {
    const x = raw.replaceAll('\t', ' ');
    return noTrunc || x.length <= 45 ? x : `${x.slice(0, 44)}…`;
  };
  const data = rows.map((r) => ({
    ID: id(r.id), CreatedSince: timeAgo(r.created), CreatedAt: r.created ? goTime(r.created) : '', CreatedBy: createdBy(r.createdBy),
    Size: humanSize(r.size), Comment: r.comment,
  }));
  process.stdout.write(formatRows(format ?? DEFAULT, data, HEADERS));
  return 0;
}
