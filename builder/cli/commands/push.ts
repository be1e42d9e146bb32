// `tsbuild push NAME[:TAG] [TARGET]`: a local image to a registry. TARGET
// (a tsbuild extension) pushes under another name without tagging first.
import { parseArgs, getBool, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { openStore } from '../../store/open-store.js';
import { parseReference, repositoryName } from '../../image/reference.js';
import { pushImage, type TransferEvent } from '../../registry/index.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

function pushLine(e: TransferEvent): string | undefined {
  if (e.kind !== 'layer') return undefined;
  const id = e.digest.slice(7, 19);
  if (e.phase === 'exists') return `${id}: Layer already exists`;
  if (e.phase === 'mounted') return `${id}: Mounted from another repository`;
  if (e.phase === 'done') return `${id}: Pushed`;
  return undefined;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(`Usage:  tsbuild push [OPTIONS] NAME[:TAG] [TARGET[:TAG]]\n\nUpload an image to a registry\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`);
    return 0;
  }
  if (a.positionals.length < 1 || a.positionals.length > 2) throw new UsageError('"tsbuild push" requires 1 or 2 arguments');
  const [local, target] = a.positionals as [string, string | undefined];
  const quiet = getBool(a, 'quiet');
  const store = await openStore(defaultRoot());
  if (!quiet) process.stdout.write(`The push refers to repository [${repositoryName(parseReference(target ?? local))}]\n`);
  const result = await pushImage(store.content, store.images, local, target, {
    onProgress: quiet ? undefined : (e) => {
      const line = pushLine(e);
      if (line) process.stdout.write(line + '\n');
    },
  });
  const ref = parseReference(result.ref);
  if (quiet) process.stdout.write(`${result.ref}\n`);
  else process.stdout.write(`${ref.tag ?? ref.digest}: digest: ${result.digest} size: ${result.size}\n`);
  return 0;
}
