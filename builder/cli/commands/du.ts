// `tsbuild du [--verbose] [--check] [--format json]`: disk use of the store
// by kind (layer blobs, snapshots, cache index, cache mounts, images, and on
// a server the contexts its clients synced) and
// what `tsbuild prune --all` could reclaim. `--check` verifies the store
// instead: every image's blobs exist with the right digests, and every cache
// entry's layers exist, no mount is left inside the store; it exits 1 when
// something is wrong. Mounts a killed tsbuild left are unmounted (and
// reported as cleaned).
import { parseArgs, getBool, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { formatTable, shortId, timeAgo } from '../table.js';
import { openStore, type Store } from '../../store/open-store.js';
import { gcRootsOf, storeLayoutOf } from '../../pipeline/cache-session.js';
import { checkCacheEntries, diskUsage, type DiskUsageReport, type UsageLine } from '../../../cache/disk-usage.js';
import { formatSize } from '../../../cache/gc-config.js';
import { StoreSizes } from '../../../cache/gc-sizes.js';
import { validateImage } from '../../image/validate.js';
import { defaultRoot } from '../store-root.js';

const FLAGS: FlagSpec[] = [
  { name: 'verbose', short: 'v', type: 'bool', help: 'List every cache entry' },
  { name: 'check', type: 'bool', help: 'Verify the store: image blobs and digests, cache entries\' layers; exit 1 on problems' },
  { name: 'format', type: 'string', metavar: 'FORMAT', help: '"table" (default) or "json"' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const USAGE = `Usage:  tsbuild du [OPTIONS]

Show the disk use of the build store

Options:
${formatFlagHelp(FLAGS)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild du" accepts no arguments');
  const format = getString(a, 'format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`invalid --format "${format}" (table or json)`);
  const store = await openStore(defaultRoot());
  if (getBool(a, 'check')) return checkStore(store, format);

  const sizes = await StoreSizes.load(store.paths.root);
  const { report } = await diskUsage(storeLayoutOf(store), await gcRootsOf(store), sizes.sizeOf);
  await sizes.save().catch(() => undefined);
  if (format === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatReport(report, getBool(a, 'verbose')));
  return 0;
}

function formatReport(r: DiskUsageReport, verbose: boolean): string {
  const row = (name: string, l: UsageLine) => [name, String(l.count), formatSize(l.bytes), reclaimable(l.reclaimableBytes, l.bytes)];
  let text = formatTable(['TYPE', 'COUNT', 'SIZE', 'RECLAIMABLE'], [
    ['Images', String(r.images), '-', '-'],
    row('Layer blobs', r.blobs),
    row('Snapshots', r.snapshots),
    row('Cache entries', r.cacheEntries),
    row('Cache mounts', r.cacheMounts),
    // Only a server's store holds its clients' synced contexts.
    ...(r.contextCache.bytes > 0 ? [row('Client contexts', r.contextCache)] : []),
    ['Total', '', formatSize(r.totalBytes), reclaimable(r.reclaimableBytes, r.totalBytes)],
  ]);
  if (verbose && r.entries.length > 0) {
    text += '\nCache entries (most recently used first):\n' + formatTable(['KEY', 'LAST USED', 'LAYERS', 'EXCLUSIVE SIZE', 'IN IMAGE'],
      r.entries.map((e) => [shortId(e.key), timeAgo(e.lastUsed.toISOString()), String(e.layers), formatSize(e.exclusiveBytes), e.usedByImage ? 'yes' : 'no']));
  }
  return text;
}

function reclaimable(part: number, whole: number): string {
  return whole === 0 ? formatSize(part) : `${formatSize(part)} (${Math.round((part / whole) * 100)}%)`;
}

async function checkStore(store: Store, format: string): Promise<number> {
  // A tsbuild killed while it had a host mount (a RUN --mount view) leaves
  // it mounted: unmount those of dead processes and say so.
  const { cleanupStaleMounts, hostMountsUnder } = await import('../../snapshots/overlay.js');
  const cleaned = (await cleanupStaleMounts(store.paths.mounts)).map((mp) => `unmounted ${mp}, left by a killed tsbuild`);
  const layout = storeLayoutOf(store);
  const roots = await gcRootsOf(store);
  const problems: string[] = [];
  const mountsDir = store.paths.mounts + '/';
  for (const mp of await hostMountsUnder(store.paths.root)) {
    if (!mp.startsWith(mountsDir)) problems.push(`unexpected mount ${mp} inside the store`);
  }
  for (const manifest of roots.manifests) {
    const v = await validateImage(store.content, manifest);
    for (const p of v.problems) problems.push(`image ${manifest}: ${p}`);
  }
  // Sizes are irrelevant to the check: do not walk snapshots.
  const { scanStore } = await import('../../../cache/gc-scan.js');
  const scan = await scanStore(layout, roots, async () => 0);
  problems.push(...scan.rootProblems, ...(await checkCacheEntries(layout, scan, { verifyDigests: true })));
  if (format === 'json') {
    process.stdout.write(JSON.stringify({ consistent: problems.length === 0, images: roots.manifests.length, cacheEntries: scan.entries.length, problems, cleaned }, null, 2) + '\n');
    return problems.length === 0 ? 0 : 1;
  }
  process.stdout.write(cleaned.map((c) => `cleaned: ${c}\n`).join(''));
  if (problems.length === 0) {
    process.stdout.write(`store is consistent: ${roots.manifests.length} images, ${scan.entries.length} cache entries, ${scan.blobs.size} blobs checked\n`);
  } else {
    process.stdout.write(problems.map((p) => `problem: ${p}\n`).join('') + `${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
  }
  return problems.length === 0 ? 0 : 1;
}
