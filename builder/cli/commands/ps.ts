// `tsbuild ps [-a] [-q] [-n N] [-l] [--no-trunc] [--filter K=V] [--format T]`: containers, like `docker ps`.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { listContainers } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { commandText, portsText, statusText } from '../../containers/format.js';
import { shortContainerId } from '../../containers/names.js';
import { containerStatusName, matchesFilters, parseFilters } from '../../containers/ps-filter.js';
import type { Container } from '../../containers/container-store.js';
import { formatFlagHelp, getBool, getList, getString, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { formatRows } from '../format-output.js';
import { shortId, timeAgo } from '../table.js';

const FLAGS: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'Only display container IDs' },
  { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  { name: 'filter', short: 'f', type: 'list', help: 'Filter output based on conditions provided (status, name, label, ancestor, id, exited)' },
  { name: 'format', type: 'string', help: 'Format output using a Go template, "table ...", or "json"' },
  { name: 'last', short: 'n', type: 'string', metavar: 'int', help: 'Show n last created containers (includes all states)' },
  { name: 'latest', short: 'l', type: 'bool', help: 'Show the latest created container (includes all states)' },
  { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes (accepted)' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const HEADERS = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
  State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS',
};
const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** `2024-01-02 15:04:05 +0000 UTC`, Go's time.Time String() as docker prints CreatedAt. */
export function goTime(iso: string): string {
  return `${iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} +0000 UTC`;
}

function rowOf(c: Container, full: boolean): Record<string, string> {
  const image = /^(sha256:)?[0-9a-f]{64}$/.test(c.config.image) && !full ? shortId(c.config.image) : c.config.image;
  return {
    ID: full ? c.config.id : shortContainerId(c.config.id),
    Image: image,
    Command: commandText(c.config.args, full),
    CreatedAt: goTime(c.config.created),
    RunningFor: timeAgo(c.config.created),
    Ports: portsText(c),
    State: containerStatusName(c),
    Status: statusText(c),
    Size: '0B',
    Names: c.config.name,
    Labels: Object.entries(c.config.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Mounts: (c.config.mounts ?? []).filter((m) => m.Type !== 'tmpfs').map((m) => (m.Type === 'volume' ? m.Name!.slice(0, m.anonymous ? 15 : undefined) : m.Source)).join(','),
    Networks: c.config.network === 'private' ? 'bridge' : c.config.network,
  };
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild ps [OPTIONS]\n\nList containers\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild ps" accepts no arguments');
  const filters = parseFilters(getList(a, 'filter'));
  const format = getString(a, 'format');
  if (format !== undefined) formatRows(format, [], HEADERS); // a bad template fails before any work
  const store = await openStore(defaultRoot());
  let shown = await listContainers(containerStoreOf(store));
  const last = getBool(a, 'latest') ? 1 : getString(a, 'last') !== undefined ? Number(getString(a, 'last')) : -1;
  const all = getBool(a, 'all') || filters.has('status') || filters.has('exited') || last > 0;
  if (!all) shown = shown.filter((c) => c.state.status === 'running' || c.state.restarting);
  shown = shown.filter((c) => matchesFilters(c, filters));
  if (last > 0) shown = shown.slice(0, last);
  const full = getBool(a, 'no-trunc');
  const rows = shown.map((c) => rowOf(c, full));
  if (getBool(a, 'quiet')) {
    process.stdout.write(rows.map((r) => `${r.ID}\n`).join(''));
    return 0;
  }
  process.stdout.write(formatRows(format ?? DEFAULT_FORMAT, rows, HEADERS));
  return 0;
}
