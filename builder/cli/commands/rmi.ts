// `tsbuild rmi IMAGE...`: docker rmi semantics (a name loses that name; an id the image).
import { parseArgs, getBool, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { familiarName, parseReference } from '../../image/reference.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild rmi [OPTIONS] IMAGE [IMAGE...]\n'); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild rmi" requires at least 1 argument');
  const store = await openStore(defaultRoot());
  for (const ref of a.positionals) {
    const result = await store.images.remove(ref, { force: getBool(a, 'force') });
    for (const name of result.untagged) process.stdout.write(`Untagged: ${familiarName(parseReference(name))}\n`);
    for (const d of result.deleted) process.stdout.write(`Deleted: ${d}\n`);
  }
  return 0;
}
