// `tsbuild system prune [-a] [--filter until=DURATION] [-f]`: docker's
// clean-up of everything unused at once: stopped containers, dangling
// images (-a: every image no container uses) and build cache (-a: all of
// it), with one prompt and one total.
import { formatFlagHelp, getBool, getList, parseArgs, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { formatSize } from '../../../cache/gc-config.js';
import { confirm } from './confirm.js';
import { removeStoppedContainers } from './container-prune.js';
import { IMAGE_PRUNE_WARNING, imagePruneOptions, removeUnusedImages } from './image-prune.js';
import { pruneBuildCache, pruneOptions } from './prune.js';

const FLAGS: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images and all build cache, not just dangling ones' },
  { name: 'filter', type: 'list', metavar: 'FILTER', help: 'Only what is at least this old (until=24h)' },
  { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

export async function pruneSystem(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(`Usage:  tsbuild system prune [OPTIONS]\n\nRemove unused data\n\nOptions:\n${formatFlagHelp(FLAGS)}\n`);
    return 0;
  }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild system prune" accepts no arguments');
  const all = getBool(a, 'all');
  const filters = getList(a, 'filter');
  const images = imagePruneOptions(all, filters);
  const cache = pruneOptions(all, undefined, filters);
  const warning = ['WARNING! This will remove:', '  - all stopped containers', `  - ${all ? IMAGE_PRUNE_WARNING.all : IMAGE_PRUNE_WARNING.dangling}`, `  - ${all ? 'all build cache' : 'unused build cache'}`, ''];
  if (!getBool(a, 'force') && !(await confirm(warning.join('\n')))) return 0;
  const containers = await removeStoppedContainers();
  if (containers.deleted.length > 0) process.stdout.write(`Deleted Containers:\n${containers.deleted.join('\n')}\n\n`);
  const imageLines = await removeUnusedImages(images);
  if (imageLines.length > 0) process.stdout.write(`Deleted Images:\n${imageLines.join('\n')}\n\n`);
  // After the images: the layers only they held go with the cache now.
  const { line, bytesFreed } = await pruneBuildCache(cache);
  process.stdout.write(`${line}\n\nTotal reclaimed space: ${formatSize(containers.reclaimed + bytesFreed)}\n`);
  return 0;
}
