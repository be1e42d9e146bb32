// `tsbuild volume create|ls|inspect|rm|prune`: named volumes in the store,
// like docker's local volume driver.
import { createInterface } from 'node:readline/promises';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { listContainers } from '../../containers/control.js';
import { containerStoreOf, volumeStoreOf } from '../../containers/create.js';
import { directorySize } from '../../containers/disk-size.js';
import { ContainerError } from '../../containers/errors.js';
import { labelMatches, parseFilters } from '../../containers/ps-filter.js';
import type { VolumeInfo } from '../../containers/volumes.js';
import { humanSize } from '../../image/inspect.js';
import { getBool, getList, getString, parseArgs } from '../args.js';
import { UsageError } from '../../errors.js';
import { forEachRef } from '../each-ref.js';
import { formatEach, formatRows } from '../format-output.js';
import { compileTemplate } from '../go-template.js';

const HELP = 'Usage:  tsbuild volume COMMAND\n\nManage volumes\n\nCommands:\n  create   Create a volume\n  inspect  Display detailed information on one or more volumes\n  ls       List volumes\n  prune    Remove unused local volumes\n  rm       Remove one or more volumes\n';

async function volumesInUse(): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  for (const c of await listContainers(containerStoreOf(await openStore(defaultRoot())))) {
    for (const m of c.config.mounts ?? []) if (m.Type === 'volume' && m.Name) used.set(m.Name, [...(used.get(m.Name) ?? []), c.config.id]);
  }
  return used;
}

function labelsOf(list: string[]): Record<string, string> {
  return Object.fromEntries(list.map((l) => [l.split('=')[0]!, l.includes('=') ? l.slice(l.indexOf('=') + 1) : '']));
}

const view = (v: VolumeInfo) => { const { anonymous: _a, ...rest } = v; return rest; };

async function create(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [{ name: 'label', type: 'list', help: '' }, { name: 'driver', short: 'd', type: 'string', help: '' }, { name: 'name', type: 'string', help: '' }]);
  const driver = getString(a, 'driver');
  if (driver !== undefined && driver !== 'local') throw new ContainerError('UNSUPPORTED', `volume driver "${driver}" is not supported (only local)`);
  const name = a.positionals[0] ?? getString(a, 'name');
  const { volume } = await volumeStoreOf(await openStore(defaultRoot())).ensure(name, labelsOf(getList(a, 'label')));
  process.stdout.write(`${volume.Name}\n`);
  return 0;
}

async function ls(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [{ name: 'quiet', short: 'q', type: 'bool', help: '' }, { name: 'format', type: 'string', help: '' }, { name: 'filter', short: 'f', type: 'list', help: '' }]);
  const filters = parseFilters(getList(a, 'filter'), new Set(['dangling', 'name', 'label', 'driver']));
  const format = getString(a, 'format');
  if (format) compileTemplate(format.replace(/^table/, ''));
  const used = filters.has('dangling') ? await volumesInUse() : new Map<string, string[]>();
  const vols = (await volumeStoreOf(await openStore(defaultRoot())).list()).filter((v) =>
    (filters.get('dangling')?.every((d) => (d === 'true' || d === '1') === !used.has(v.Name)) ?? true)
    && (filters.get('name')?.some((n) => v.Name.includes(n)) ?? true)
    && (filters.get('label')?.every((l) => labelMatches(v.Labels ?? {}, l)) ?? true)
    && (filters.get('driver')?.some((d) => d === 'local') ?? true));
  if (getBool(a, 'quiet')) { process.stdout.write(vols.map((v) => `${v.Name}\n`).join('')); return 0; }
  const rows = vols.map((v) => ({
    Name: v.Name, Driver: v.Driver, Scope: v.Scope, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt,
    Labels: Object.entries(v.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(','), Size: 'N/A', Links: 'N/A',
  }));
  process.stdout.write(formatRows(format ?? 'table {{.Driver}}\t{{.Name}}', rows,
    { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', CreatedAt: 'CREATED', Labels: 'LABELS', Size: 'SIZE', Links: 'LINKS' }));
  return 0;
}

async function inspect(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [{ name: 'format', short: 'f', type: 'string', help: '' }]);
  if (a.positionals.length === 0) throw new UsageError('"tsbuild volume inspect" requires at least 1 argument');
  const volumes = volumeStoreOf(await openStore(defaultRoot()));
  const found: unknown[] = [];
  let failed = false;
  for (const name of a.positionals) {
    const v = await volumes.get(name);
    if (v) found.push(view(v));
    else { process.stderr.write(`Error: No such volume: ${name}\n`); failed = true; }
  }
  const format = getString(a, 'format');
  process.stdout.write(format ? formatEach(format, found) : `${JSON.stringify(found, null, 4)}\n`);
  return failed ? 1 : 0;
}

async function rm(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [{ name: 'force', short: 'f', type: 'bool', help: '' }]);
  if (a.positionals.length === 0) throw new UsageError('"tsbuild volume rm" requires at least 1 argument');
  const volumes = volumeStoreOf(await openStore(defaultRoot()));
  const used = await volumesInUse();
  return forEachRef(a.positionals, async (name) => {
    const users = used.get(name);
    if (users) throw new ContainerError('VOLUME_IN_USE', `remove ${name}: volume is in use - [${users.join(', ')}]`);
    if (getBool(a, 'force') && !(await volumes.get(name))) return;
    await volumes.remove(name);
  });
}

async function prune(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [{ name: 'force', short: 'f', type: 'bool', help: '' }, { name: 'all', short: 'a', type: 'bool', help: '' }, { name: 'filter', type: 'list', help: '' }]);
  const filters = parseFilters(getList(a, 'filter'), new Set(['label']));
  if (!getBool(a, 'force')) {
    process.stdout.write(`WARNING! This will remove ${getBool(a, 'all') ? 'all' : 'anonymous'} local volumes not used by at least one container.\n`);
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question('Are you sure you want to continue? [y/N] ').finally(() => rl.close());
    if (!/^y(es)?$/i.test(answer.trim())) return 0;
  }
  const volumes = volumeStoreOf(await openStore(defaultRoot()));
  const used = await volumesInUse();
  // docker 23+: only anonymous volumes unless --all
  const doomed = (await volumes.list()).filter((v) => !used.has(v.Name) && (getBool(a, 'all') || v.anonymous)
    && (filters.get('label')?.every((l) => labelMatches(v.Labels ?? {}, l)) ?? true));
  let reclaimed = 0;
  for (const v of doomed) {
    reclaimed += await directorySize(v.Mountpoint);
    await volumes.remove(v.Name);
  }
  if (doomed.length > 0) process.stdout.write(`Deleted Volumes:\n${doomed.map((v) => v.Name).join('\n')}\n\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { create, ls, list: ls, inspect, rm, remove: rm, prune };

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === 'help') { process.stdout.write(HELP); return 0; }
  const fn = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (!fn) throw new UsageError(`'${sub}' is not a tsbuild volume command`);
  return fn(rest);
}

