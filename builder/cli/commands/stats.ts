// `tsbuild stats [--no-stream] [-a] [--format T] [CONTAINER...]`: live
// resource use, like docker stats (one table a second until Ctrl-C).
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer, listContainers } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { shortContainerId } from '../../containers/names.js';
import { binarySize, decimalSize, measure } from '../../containers/stats.js';
import type { Container } from '../../containers/container-store.js';
import { formatRows } from '../format-output.js';
import { formatFlagHelp, getBool, getString, parseArgs, type FlagSpec } from '../args.js';

const FLAGS: FlagSpec[] = [
  { name: 'no-stream', type: 'bool', help: 'Disable streaming stats and only pull the first result' },
  { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
  { name: 'format', type: 'string', help: 'Format output using a Go template' },
  { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const HEADERS = {
  ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};
const DEFAULT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

async function row(c: Container, full: boolean): Promise<Record<string, string>> {
  const id = full ? c.config.id : shortContainerId(c.config.id);
  if (c.state.status !== 'running') {
    return { ID: id, Container: id, Name: c.config.name, CPUPerc: '0.00%', MemUsage: '0B / 0B', MemPerc: '0.00%', NetIO: '0B / 0B', BlockIO: '0B / 0B', PIDs: '0' };
  }
  const s = await measure(c);
  return {
    ID: id, Container: id, Name: c.config.name,
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    MemUsage: `${binarySize(s.memUsage)} / ${binarySize(s.memLimit)}`,
    MemPerc: `${s.memLimit ? ((s.memUsage / s.memLimit) * 100).toFixed(2) : '0.00'}%`,
    NetIO: `${decimalSize(s.netRx)} / ${decimalSize(s.netTx)}`,
    BlockIO: `${decimalSize(s.blockRead)} / ${decimalSize(s.blockWrite)}`,
    PIDs: String(s.pids),
  };
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild stats [OPTIONS] [CONTAINER...]\n\nDisplay a live stream of container(s) resource usage statistics\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  const containers = containerStoreOf(await openStore(defaultRoot()));
  const format = getString(a, 'format') ?? DEFAULT;
  const pick = async () => (a.positionals.length > 0
    ? Promise.all(a.positionals.map((r) => findContainer(containers, r)))
    : (await listContainers(containers)).filter((c) => getBool(a, 'all') || c.state.status === 'running'));
  for (;;) {
    const rows = await Promise.all((await pick()).map((c) => row(c, getBool(a, 'no-trunc'))));
    const out = formatRows(format, rows, HEADERS);
    if (getBool(a, 'no-stream')) { process.stdout.write(out); return 0; }
    // clear the screen and redraw, as docker does on a terminal
    process.stdout.write(`${process.stdout.isTTY ? '\x1b[2J\x1b[H' : ''}${out}`);
  }
}
