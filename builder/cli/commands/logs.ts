// `tsbuild logs [-f] [--tail N] [-t] CONTAINER`: the container's output,
// stdout to stdout and stderr to stderr, in the order it came.
import { openStore } from '../../store/open-store.js';
import { findContainer, isActive } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { readLogs } from '../../containers/logs.js';
import { formatFlagHelp, getBool, getString, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'follow', short: 'f', type: 'bool', help: 'Follow log output' },
  { name: 'tail', short: 'n', type: 'string', help: 'Number of lines to show from the end of the logs (default "all")' },
  { name: 'timestamps', short: 't', type: 'bool', help: 'Show timestamps' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => (stream.write(text) ? resolve() : stream.once('drain', resolve)));
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write(`Usage:  tsbuild logs [OPTIONS] CONTAINER\n\nFetch the logs of a container\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`); return 0; }
  if (a.positionals.length !== 1) throw new UsageError('"tsbuild logs" requires exactly 1 argument: CONTAINER');
  const tailText = getString(a, 'tail');
  if (tailText !== undefined && tailText !== 'all' && !/^\d+$/.test(tailText)) throw new UsageError(`invalid --tail value: ${tailText}`);
  const store = await openStore(defaultRoot());
  const containers = containerStoreOf(store);
  const c = await findContainer(containers, a.positionals[0]!);
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const records = readLogs(containers.logFile(c.config.id), {
    follow: getBool(a, 'follow'),
    tail: tailText === undefined || tailText === 'all' ? undefined : Number(tailText),
    signal: stop.signal,
    stillRunning: async () => {
      const now = await containers.load(c.config.id);
      return now !== undefined && isActive(now.state);
    },
  });
  const stamps = getBool(a, 'timestamps');
  for await (const r of records) {
    await write(r.stream === 'stderr' ? process.stderr : process.stdout, stamps ? `${r.time} ${r.log}` : r.log);
  }
  return 0;
}
