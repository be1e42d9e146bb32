// `tsbuild images [-q] [-a] [--no-trunc] [--digests] [--filter K=V] [--format T] [REPOSITORY[:TAG]]`:
// the local store's images, like `docker images`.
import { parseArgs, getBool, getList, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { shortId, timeAgo } from '../table.js';
import { humanSize, inspectImage } from '../../image/inspect.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import type { ImageListEntry } from '../../image/store.js';
import { labelMatches, parseFilters } from '../../containers/ps-filter.js';
import { formatRows } from '../format-output.js';
import { goTime } from './ps.js';

const FLAGS: FlagSpec[] = [
  { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
  { name: 'all', short: 'a', type: 'bool', help: 'Show all images (accepted: there are no intermediate images)' },
  { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  { name: 'digests', type: 'bool', help: 'Show digests' },
  { name: 'filter', short: 'f', type: 'list', help: 'Filter output based on conditions provided (dangling, reference, label)' },
  { name: 'format', type: 'string', help: 'Format output using a Go template, "table ...", or "json"' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const HEADERS = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE',
};

/** docker's reference filter: a glob over `repo` or `repo:tag` (`*` within a path segment). */
function referenceMatches(r: ImageListEntry, pattern: string): boolean {
  const glob = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return glob.test(r.repository) || glob.test(`${r.repository}:${r.tag}`);
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild images [OPTIONS] [REPOSITORY[:TAG]]\n\nList images\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  const filters = parseFilters(getList(a, 'filter'), new Set(['dangling', 'reference', 'label', 'before', 'since']));
  const format = getString(a, 'format');
  if (format !== undefined) formatRows(format, [], HEADERS);
  const store = await openStore(defaultRoot());
  let rows = await store.images.list();
  const positional = a.positionals[0];
  if (positional) rows = rows.filter((r) => referenceMatches(r, positional.includes(':') ? positional : `${positional}`) || (r.repository === positional.split(':')[0] && (!positional.includes(':') || r.tag === positional.split(':')[1])));
  for (const d of filters.get('dangling') ?? []) rows = rows.filter((r) => (r.repository === '<none>') === (d === 'true' || d === '1'));
  const refs = filters.get('reference');
  if (refs) rows = rows.filter((r) => refs.some((p) => referenceMatches(r, p)));
  const labels = filters.get('label');
  if (labels) {
    const keep: ImageListEntry[] = [];
    for (const r of rows) {
      const config = (await inspectImage(store.content, store.images, r.manifestDigest)) as { Config?: { Labels?: Record<string, string> } };
      if (labels.every((l) => labelMatches(config.Config?.Labels ?? {}, l))) keep.push(r);
    }
    rows = keep;
  }
  for (const [key, keepOlder] of [['before', true], ['since', false]] as const) {
    for (const ref of filters.get(key) ?? []) {
      const pivot = (await store.images.list()).find((r) => r.reference?.endsWith(ref) || `${r.repository}:${r.tag}` === ref || r.id.includes(ref));
      if (pivot) rows = rows.filter((r) => (keepOlder ? r.created < pivot.created : r.created > pivot.created));
    }
  }
  const full = getBool(a, 'no-trunc');
  const id = (d: string) => (full ? d : shortId(d));
  if (getBool(a, 'quiet')) {
    process.stdout.write([...new Set(rows.map((r) => id(r.id)))].map((l) => l + '\n').join(''));
    return 0;
  }
  const data = rows.map((r) => ({
    ID: id(r.id), Repository: r.repository, Tag: r.tag, Digest: r.manifestDigest, CreatedSince: timeAgo(r.created),
    CreatedAt: goTime(r.created), Size: humanSize(r.size), Containers: 'N/A', SharedSize: 'N/A', UniqueSize: 'N/A', VirtualSize: humanSize(r.size),
  }));
  const fallback = `table {{.Repository}}\t{{.Tag}}${getBool(a, 'digests') ? '\t{{.Digest}}' : ''}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
  process.stdout.write(formatRows(format ?? fallback, data, HEADERS));
  return 0;
}
