// `tsbuild tag SOURCE TARGET`.
import { parseArgs } from '../args.js';
import { UsageError } from '../../errors.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [{ name: 'help', type: 'bool', help: 'Print usage' }]);
  if (a.flags.get('help')) { process.stdout.write('Usage:  tsbuild tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n'); return 0; }
  if (a.positionals.length !== 2) throw new UsageError('"tsbuild tag" requires exactly 2 arguments');
  const store = await openStore(defaultRoot());
  const src = await store.images.resolve(a.positionals[0]);
  await store.images.tag(a.positionals[1], src.manifestDigest);
  return 0;
}
