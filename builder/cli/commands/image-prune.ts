// `tsbuild image prune [-a] [--filter until=DURATION] [-f]`: forgets the
// dangling images (no name left: the previous build of a tag, say), or
// with -a every image no container was created from, as docker does. An
// image's layers are build cache in tsbuild's store (they back the cache
// entries of the build that made it): they stay until the build cache
// goes (`tsbuild builder prune`, `tsbuild system prune` does both), so the
// space this reclaims by itself is only what nothing else held.
import { formatFlagHelp, getBool, getList, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { openStore } from '../../store/open-store.js';
import { defaultRoot } from '../store-root.js';
import { listContainers } from '../../containers/control.js';
import { containerStoreOf } from '../../containers/create.js';
import { familiarName, parseReference } from '../../image/reference.js';
import type { Digest } from '../../../cache/digest.js';
import { formatSize } from '../../../cache/gc-config.js';
import { untilOfFilters } from './prune.js';
import { confirm } from './confirm.js';

const FLAGS: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' },
  { name: 'filter', type: 'list', metavar: 'FILTER', help: 'Only images created at least this long ago (until=24h)' },
  { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export interface ImagePruneOptions {
  all: boolean;
  untilMs?: number;
}

export const IMAGE_PRUNE_WARNING = {
  dangling: 'all dangling images',
  all: 'all images without at least one container associated to them',
};

export async function pruneImages(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(`Usage:  tsbuild image prune [OPTIONS]\n\nRemove unused images\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`);
    return 0;
  }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild image prune" accepts no arguments');
  const opts = imagePruneOptions(getBool(a, 'all'), getList(a, 'filter'));
  if (!getBool(a, 'force') && !(await confirm(`WARNING! This will remove ${opts.all ? IMAGE_PRUNE_WARNING.all : IMAGE_PRUNE_WARNING.dangling}.`))) return 0;
  const lines = await removeUnusedImages(opts);
  if (lines.length > 0) process.stdout.write(`Deleted Images:\n${lines.join('\n')}\n\n`);
  process.stdout.write(`Total reclaimed space: ${formatSize(0)}\n`);
  return 0;
}

export function imagePruneOptions(all: boolean, filters: string[]): ImagePruneOptions {
  const untilMs = untilOfFilters(filters);
  return untilMs === undefined ? { all } : { all, untilMs };
}

/** Forgets the unused images (also for `system prune`); docker's lines: "untagged: NAME", "deleted: DIGEST". */
export async function removeUnusedImages(opts: ImagePruneOptions): Promise<string[]> {
  const store = await openStore(defaultRoot());
  const used = new Set((await listContainers(containerStoreOf(store))).map((c) => c.config.imageId));
  const cutoff = opts.untilMs === undefined ? Infinity : Date.now() - opts.untilMs;
  const rows = await store.images.list();
  // By config id: a manifest shares its image with any other of that config (removed together).
  const named = new Set(rows.filter((r) => r.reference !== undefined).map((r) => r.id));
  const doomed = new Set<string>();
  for (const r of rows) {
    if (used.has(r.id) || (!opts.all && named.has(r.id))) continue;
    // An image without a creation time counts as old, as docker's zero time does.
    if (r.created !== '' && Date.parse(r.created) > cutoff) continue;
    doomed.add(r.manifestDigest);
  }
  const lines: string[] = [];
  // Every name of an image goes with it (-a), which docker does without asking.
  for (const result of await store.images.forget([...doomed] as Digest[])) {
    for (const name of result.untagged) lines.push(`untagged: ${familiarName(parseReference(name))}`);
    for (const d of result.deleted) lines.push(`deleted: ${d}`);
  }
  return lines;
}
