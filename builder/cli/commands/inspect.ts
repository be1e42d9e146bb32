// `tsbuild inspect IMAGE...`: docker inspect's JSON array.
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { inspectImage } from '../../image/inspect.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'format', short: 'f', type: 'string', metavar: 'FIELD', help: 'Print one field, e.g. "{{.Id}}" or "{{.Config.Cmd}}" (dotted paths only)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

// A small subset of Go templates: `{{.A.B}}` and `{{json .A}}`, enough for scripts.
function applyFormat(format: string, data: unknown): string {
  return format.replace(/\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}/g, (_m, json: string | undefined, p: string) => {
    let v: unknown = data;
    for (const k of p.split('.').filter(Boolean)) v = (v as Record<string, unknown> | undefined)?.[k];
    if (json) return JSON.stringify(v ?? null);
    if (Array.isArray(v)) return `[${v.join(' ')}]`;
    if (v && typeof v === 'object') return `map[${Object.entries(v).map(([k, x]) => `${k}:${typeof x === 'object' ? JSON.stringify(x) : x}`).join(' ')}]`;
    return v === undefined || v === null ? '<no value>' : String(v);
  });
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild inspect [OPTIONS] IMAGE [IMAGE...]\n\nDisplay detailed information on images\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild inspect" requires at least 1 argument');
  const store = await openStore(defaultRoot());
  const results = [];
  for (const ref of a.positionals) results.push(await inspectImage(store.content, store.images, ref));
  const format = getString(a, 'format');
  if (format) process.stdout.write(results.map((r) => applyFormat(format, r) + '\n').join(''));
  else process.stdout.write(JSON.stringify(results, null, 4) + '\n');
  return 0;
}
