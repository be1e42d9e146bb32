// `tsbuild rmi [-f] IMAGE...`: docker rmi semantics (a name loses that
// name; an id the image). An image a container still uses is kept unless
// -f, as docker refuses it: the container's layers come from it.
import { parseArgs, getBool, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { familiarName, parseReference } from '../../image/reference.js';
import { openStore, type Store } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { ImageError } from '../../image/errors.js';
import { listContainers } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { shortContainerId } from '../../containers/names.js';
import { isUserError } from '../report-error.js';

const FLAGS: FlagSpec[] = [
  { name: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

/** Refuses when removing `ref` would forget an image some container was created from. */
async function refuseIfUsed(store: Store, ref: string): Promise<void> {
  const found = await store.images.tryResolve(ref);
  if (!found) return;
  // another name keeps the image: only this name goes, which docker allows
  const byName = found.tags.some((t) => t === ref || familiarName(parseReference(t)) === ref || familiarName(parseReference(t)) === `${ref}:latest`);
  if (byName && found.tags.length > 1) return;
  const user = (await listContainers(containerStoreOf(store))).find((c) => c.config.imageId === found.id);
  if (!user) return;
  const what = byName ? `repository reference "${ref}"` : ref;
  throw new ImageError('IMAGE_IN_USE',
    `conflict: unable to remove ${what} (must force) - container ${shortContainerId(user.config.id)} is using its referenced image ${found.id.slice(7, 19)}`);
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) { process.stdout.write('Usage:  tsbuild rmi [OPTIONS] IMAGE [IMAGE...]\n'); return 0; }
  if (a.positionals.length === 0) throw new UsageError('"tsbuild rmi" requires at least 1 argument');
  const store = await openStore(defaultRoot());
  const force = getBool(a, 'force');
  let failed = false;
  // like docker: each name on its own; a failure is reported and the others still go
  for (const ref of a.positionals) {
    try {
      if (!force) await refuseIfUsed(store, ref);
      const result = await store.images.remove(ref, { force });
      for (const name of result.untagged) process.stdout.write(`Untagged: ${familiarName(parseReference(name))}\n`);
      for (const d of result.deleted) process.stdout.write(`Deleted: ${d}\n`);
    } catch (err) {
      if (!isUserError(err)) throw err;
      process.stderr.write(`ERROR: ${err.message}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
