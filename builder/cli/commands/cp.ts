// `tsbuild cp CONTAINER:SRC DEST` and `tsbuild cp SRC CONTAINER:DEST`.
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { findContainer } from '../../containers/control.js';
import { copyFromContainer, copyToContainer } from '../../containers/copy-files.js';
import { containerStoreOf } from '../../containers/create.js';
import { getBool, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';

const FLAGS: FlagSpec[] = [
  { name: 'archive', short: 'a', type: 'bool', help: 'Archive mode (accepted; ownership is root in the container)' },
  { name: 'follow-link', short: 'L', type: 'bool', help: 'Always follow symbol link in SRC_PATH' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

/** `name:path` names a container path; an absolute or ./ path never does. */
function containerPart(arg: string): { ref: string; path: string } | null {
  if (arg.startsWith('/') || arg.startsWith('.')) return null;
  const colon = arg.indexOf(':');
  return colon > 0 ? { ref: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' } : null;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH\n        tsbuild cp [OPTIONS] SRC_PATH CONTAINER:DEST_PATH\n\nCopy files/folders between a container and the local filesystem\n'); return 0; }
  if (a.positionals.length !== 2) throw new UsageError('"tsbuild cp" requires exactly 2 arguments');
  const [src, dest] = a.positionals as [string, string];
  const from = containerPart(src);
  const to = containerPart(dest);
  if (from && to) throw new UsageError('copying between containers is not supported');
  if (!from && !to) throw new UsageError('must specify at least one container source');
  if (src === '-' || dest === '-') throw new UsageError('tar streams on stdin/stdout are not supported: give a path');
  const containers = containerStoreOf(await openStore(defaultRoot()));
  if (from) await copyFromContainer(await findContainer(containers, from.ref), from.path, dest);
  else await copyToContainer(await findContainer(containers, to!.ref), src, to!.path);
  return 0;
}
