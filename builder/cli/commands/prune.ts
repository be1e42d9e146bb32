// `tsbuild prune [-a] [--keep-storage SIZE] [--filter until=DURATION] [-f]`:
// removes build cache, least recently used first. Without --all, cache
// entries whose layers all belong to an image of the store are kept; with
// --all they go too, and so do cache mounts. Images' own blobs and the
// snapshots of their layers always stay, as does anything a running build
// or container uses (the command waits for running builds to finish). On a
// server's store, the contexts clients synced are build cache too.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, getBool, getList, getString, formatFlagHelp, type FlagSpec } from '../args.js';
import { UsageError } from '../../errors.js';
import { cleanupStale, openStore, type Store } from '../../store/open-store.js';
import { checksumsDir, collectGarbage } from '../../pipeline/cache-session.js';
import { ExplainHistory } from '../../pipeline/explain-history.js';
import { formatSize, parseDuration, parseSize } from '../../../cache/gc-config.js';
import type { PruneOptions } from '../../../cache/gc.js';
import { defaultRoot } from '../store-root.js';
import { clearLocalMemo } from '../../memo/local-memo.js';
import { confirm } from './confirm.js';

const FLAGS: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', help: 'Remove all build cache, also entries used by images, and cache mounts' },
  { name: 'keep-storage', type: 'string', metavar: 'SIZE', help: 'Keep this much storage (e.g. 10GB), removing least recently used cache first' },
  { name: 'filter', type: 'list', metavar: 'FILTER', help: 'Only cache unused for at least this long (until=24h)' },
  { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  { name: 'help', type: 'bool', help: 'Print usage' },
];

const USAGE = `Usage:  tsbuild prune [OPTIONS]

Remove build cache

Options:
${formatFlagHelp(FLAGS)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (getBool(a, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (a.positionals.length > 0) throw new UsageError('"tsbuild prune" accepts no arguments');
  const opts = pruneOptions(getBool(a, 'all'), getString(a, 'keep-storage'), getList(a, 'filter'));
  if (!getBool(a, 'force') && !(await confirm(opts.all ? 'WARNING! This will remove all build cache.' : 'WARNING! This will remove all build cache not used by images.'))) {
    return 0;
  }
  const { line, bytesFreed } = await pruneBuildCache(opts);
  process.stdout.write(`${line}\nTotal reclaimed space: ${formatSize(bytesFreed)}\n`);
  return 0;
}

/** Removes build cache as `opts` say (also for `system prune`): what went, in a line, and the bytes freed. */
export async function pruneBuildCache(opts: PruneOptions): Promise<{ line: string; bytesFreed: number }> {
  const store = await openStore(defaultRoot());
  await cleanupStale(store);
  const report = await collectGarbage(store, opts, {
    waitMs: 10 * 60_000,
    onWait: (holders) => process.stderr.write(`waiting for ${holders.map((h) => `${h.purpose} (pid ${h.pid})`).join(', ')} to finish...\n`),
  });
  // Answers of identical builds go with the cache they came from (most would no longer hold anyway).
  clearLocalMemo(store.paths.root);
  const extra = (await new ExplainHistory(ExplainHistory.dirOf(store.paths.root)).removeUnreferencedSelections()) + (await removeOrphanChecksumCaches(store));
  const contexts = report.contextsRemoved + report.contextFilesRemoved > 0 ? `, ${report.contextsRemoved} client contexts, ${report.contextFilesRemoved} context files` : '';
  return { line: `Deleted build cache: ${report.entriesRemoved} cache entries, ${report.blobsRemoved} blobs, ${report.snapshotsRemoved} snapshots, ${report.cacheMountsRemoved} cache mounts${contexts}`, bytesFreed: report.bytesFreed + extra };
}

export function pruneOptions(all: boolean, keepStorage: string | undefined, filters: string[]): PruneOptions {
  const opts: PruneOptions = { all };
  if (keepStorage !== undefined) opts.keepStorageBytes = parseSize(keepStorage);
  const untilMs = untilOfFilters(filters);
  if (untilMs !== undefined) opts.untilMs = untilMs;
  return opts;
}

/** The prune commands' `--filter until=DURATION` (the last one counts), in ms; undefined without one. */
export function untilOfFilters(filters: string[]): number | undefined {
  let untilMs: number | undefined;
  for (const f of filters) {
    const eq = f.indexOf('=');
    const name = eq < 0 ? f : f.slice(0, eq);
    if (name !== 'until' || eq < 0) throw new UsageError(`invalid --filter "${f}" (supported: until=DURATION, e.g. until=24h)`);
    untilMs = parseDuration(f.slice(eq + 1));
  }
  return untilMs;
}

// Checksum caches of context dirs that no longer exist.
async function removeOrphanChecksumCaches(store: Store): Promise<number> {
  const dir = checksumsDir(store);
  let freed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const root = await readFile(file, 'utf8').then((t) => (JSON.parse(t) as { root?: string }).root).catch(() => undefined);
    if (root && (await stat(root).then(() => true, () => false))) continue;
    freed += (await stat(file).catch(() => null))?.size ?? 0;
    await rm(file, { force: true });
  }
  return freed;
}
