/**
 * Content checksums of what a COPY would read, for cache keys: sha256 over
 * the sorted records (path, type, mode, uid, gid, link target, content
 * digest) of every selected entry — never mtimes, so touching a file without
 * changing it keeps the cache. File digests are remembered by stat identity
 * (dev, ino, size, mtime, ctime) so unchanged files are not re-read.
 */
import { createHash } from '../../runner-native/native-crypto.js';
import { closeSync, constants as fsc, createReadStream, lstatSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { prestatOf, type WalkStat } from './prestat.js';
import { planSources } from '../fileops/sources.js';
import type { SourceTree } from '../fileops/source-tree.js';
import { containsWildcards, resolveWildcards } from '../fileops/wildcard.js';
import { BuildContext, entryType, type EntryType } from './context.js';
import { PatternMatcher } from '../patterns/pattern-matcher.js';
import { monotonicMs } from '../../cache/monotonic-clock.js';
import { recentChecksum, rememberRecent, reusableWalk } from './recent-selections.js';
import { Fingerprint } from './selection-fingerprint.js';
import { ignoreVariant, stillAsWalked, wholeContextSelection } from './kept-walk.js';

/** Bump when the record format changes: old cache keys must not match new ones. */
const SELECTION_SCHEMA = 'tsbuild-selection-v1';

export interface StatKey {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/**
 * Maps a file's stat identity to its content digest (in memory below; the
 * store's persistent one is cache/checksum-cache.ts).
 */
export interface ContentHashCache {
  get(hostPath: string, key: StatKey): string | undefined;
  set(hostPath: string, key: StatKey, digest: string): void;
  /**
   * Told what each checksummed selection contained, so that a later cache
   * miss can name the files that changed (builder/pipeline/explain*.ts). The
   * list is built only if asked for: a cached step never needs it.
   */
  noteSelection?(digest: string, entries: () => readonly SelectionEntry[]): void;
  /** Called before the first get() of a selection (a cache may read its table lazily). */
  load?(): Promise<void>;
  /**
   * Whole selections of a build context, by fingerprint (the store's cache
   * keeps them): a selection whose entries all kept their name, mode,
   * owner and stat identity has the checksum it had.
   */
  selectionDigest?(key: string, fingerprint: string): string | undefined;
  rememberSelection?(key: string, fingerprint: string, digest: string, trustedFrom: number): void;
}

/** One selected entry, as it entered the checksum. */
export interface SelectionEntry {
  /** Path inside the tree (the context), without the leading `/`: what users call the file. */
  readonly path: string;
  readonly type: string;
  /** Octal permission bits. */
  readonly mode: string;
  readonly uid: number;
  readonly gid: number;
  readonly link: string;
  /** `sha256:<hex>` of a regular file's bytes, '' otherwise. */
  readonly digest: string;
}

export class MemoryContentHashCache implements ContentHashCache {
  private readonly entries = new Map<string, { key: StatKey; digest: string }>();

  get(hostPath: string, key: StatKey): string | undefined {
    const hit = this.entries.get(hostPath);
    return hit && sameKey(hit.key, key) ? hit.digest : undefined;
  }

  set(hostPath: string, key: StatKey, digest: string): void {
    this.entries.set(hostPath, { key, digest });
  }

  get size(): number {
    return this.entries.size;
  }
}

function sameKey(a: StatKey, b: StatKey): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

export function statKey(st: StatKey): StatKey {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** `sha256:<hex>` of a file's bytes, through the cache when given. */
export async function fileDigest(hostPath: string, st: StatKey, cache?: ContentHashCache): Promise<string> {
  const key = statKey(st);
  const cached = cache?.get(hostPath, key);
  if (cached) return cached;
  const hash = createHash('sha256');
  if (st.size <= READ_WHOLE_MAX) hash.update(await readFile(hostPath));
  else for await (const chunk of createReadStream(hostPath)) hash.update(chunk as Buffer);
  const digest = `sha256:${hash.digest('hex')}`;
  cache?.set(hostPath, key, digest);
  return digest;
}

export interface SelectionOptions {
  /** --exclude patterns, relative to each selected source. */
  readonly exclude?: readonly string[];
  /** Interpret the patterns as COPY --parents sources. */
  readonly parents?: boolean;
  readonly cache?: ContentHashCache;
  /**
   * A whole build context's walk, in this process (recent-selections.ts):
   * 'keep' it for a later solve of the same build, or 'reuse' the one kept
   * instead of walking again (the local memo's second solve only: its
   * rules hold for a solve that asks right after the build that walked).
   */
  readonly contextWalk?: 'keep' | 'reuse';
}

/**
 * Checksum of the files COPY would read for these source patterns (as
 * written in the Dockerfile: paths, wildcards, `/./` pivots with parents).
 * Missing literal sources fail like COPY does.
 */
export async function checksumSelection(tree: SourceTree, patterns: readonly string[], options: SelectionOptions = {}): Promise<string> {
  // Before any lstat: what changed after it cannot keep its stat identity (see recent-selections.ts).
  let walkStartedAt = Date.now();
  const exclude = options.exclude?.length ? new PatternMatcher(options.exclude) : undefined;
  const items = await planSources(patterns, tree, { instruction: 'COPY', parents: options.parents ?? false });
  const cache = options.cache;
  // A build context's selection is fingerprinted: when nothing in it
  // changed since a build remembered it, that is its checksum, with no file
  // read and no per-file table loaded.
  const memo = tree instanceof BuildContext && cache?.selectionDigest && cache.rememberSelection ? cache : undefined;
  const memoKey = memo ? selectionKey((tree as BuildContext).root, tree.forceRootOwnership, patterns, options) : '';
  // The local memo's second solve may take the build's own walk instead of walking (recent-selections.ts).
  const keepable = memo !== undefined && options.contextWalk !== undefined && wholeContextSelection(items, exclude);
  const variant = keepable ? ignoreVariant(tree as BuildContext) : '';
  const reused = keepable && options.contextWalk === 'reuse' ? reusableWalk<Found>(memoKey, variant, stillAsWalked) : undefined;
  let found: Found[] = [];
  let fingerprint: Pick<Fingerprint, 'digest' | 'trustedFrom'> | undefined;
  if (reused) {
    found = reused.entries;
    fingerprint = { digest: () => reused.fingerprint, trustedFrom: reused.trustedFrom };
    // Its entries' stats are that walk's: racy by its start.
    walkStartedAt = reused.startedAt;
  } else {
    // One walk gives both: the fingerprint, and the entries a miss checksums
    // (a second walk cost as much again as the first).
    const collector = new Collector(tree, found, memo ? new Fingerprint() : undefined);
    await walkSelection(tree, items, exclude, collector);
    fingerprint = collector.fingerprint;
  }
  if (tree instanceof BuildContext) tree.noteWalked(found, wholeContext(items, exclude, found));
  // This process may have just checksummed it (the local memo's second
  // solve): its digests come back with it, for the walk's listeners, and
  // only a file edited too shortly before that is read again.
  let digest = memo && fingerprint ? await recentChecksum(memoKey, fingerprint.digest(), found, (racy) => hashMisses(racy, undefined), () => checksumOfLines(found)) : undefined;
  if (digest === undefined && memo && fingerprint) {
    const known = memo.selectionDigest!(memoKey, fingerprint.digest());
    if (known) return known;
  }
  if (digest === undefined) {
    await cache?.load?.();
    for (const f of found) if (f.type === 'file') f.digest = cache?.get(f.host, f) ?? '';
    await hashMisses(found, cache);
    digest = checksumOfLines(found);
  }
  if (memo && fingerprint) {
    // The racy rule (cache/checksum-cache.ts) keeps a selection with an entry
    // changed too close to this build's start from being remembered.
    memo.rememberSelection!(memoKey, fingerprint.digest(), digest, fingerprint.trustedFrom);
    // A reused walk that read the same is remembered as it is already.
    if (!reused || digest !== reused.checksum) rememberRecent(memoKey, fingerprint.digest(), digest, found, walkStartedAt, keepable ? { variant, trustedFrom: fingerprint.trustedFrom } : undefined);
  }
  // The lines are made again if the list is ever asked for: kept until the
  // build ends, they were a third of a 50,000-file COPY's memory.
  // In walk order: whoever reads the list (a miss explanation, the
  // history) keys it by path, and a one-file rebuild waits for it.
  options.cache?.noteSelection?.(digest, () => found.map(entryOf));
  return digest;
}

// One source that is the context's root, nothing excluded: the walk saw every entry of the context.
function wholeContext(items: Awaited<ReturnType<typeof planSources>>, exclude: PatternMatcher | undefined, found: readonly Found[]): boolean {
  return items.length === 1 && items[0]!.kind === 'path' && exclude === undefined && found[0]?.inRoot === '/';
}

/** What names a selection of one tree: its patterns and options, after whatever names the tree (`id`) and what else decides what it sees (`variant`). */
export function selectionKey(id: string, variant: unknown, patterns: readonly string[], options: Pick<SelectionOptions, 'exclude' | 'parents'>): string {
  return JSON.stringify([id, variant, patterns, options.exclude ?? [], options.parents ?? false]);
}

async function walkSelection(tree: SourceTree, items: Awaited<ReturnType<typeof planSources>>, exclude: PatternMatcher | undefined, sink: Collector): Promise<void> {
  for (const item of items) {
    if (item.kind === 'path') {
      await collect(tree, item.path, `${item.group}:${item.path}`, { exclude }, sink);
    } else if (item.kind === 'parents') {
      const include = item.pattern === '' ? undefined : new PatternMatcher([item.pattern]);
      const bases = containsWildcards(item.base) ? await resolveWildcards(tree, item.base) : [item.base];
      for (const base of bases) await collect(tree, base, `${item.group}:${base}`, { exclude, include }, sink);
    }
  }
}

interface CollectOptions {
  readonly exclude?: PatternMatcher;
  readonly include?: PatternMatcher;
}

/**
 * A selected entry, reduced at once to what its record needs: a warm
 * rebuild holds thousands of these, and keeping each file's Stats (with
 * its four Dates) alive until the end made the garbage collector the
 * biggest cost of a no-op build. Its stat identity (StatKey) finds its
 * digest in the cache, or has it hashed.
 */
interface Found extends StatKey {
  readonly inRoot: string;
  readonly host: string;
  readonly label: string;
  readonly type: EntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly link: string;
  readonly nlink: number;
  /** `sha256:<hex>` of a regular file; '' until looked up or hashed, and for other types. */
  digest: string;
}

/** Turns each visible entry of a walk into a Found, and into the selection's fingerprint when one is kept: `begin` once per walked source, then `add` per entry under it. */
class Collector {
  private label = '';

  constructor(private readonly tree: SourceTree, private readonly out: Found[], readonly fingerprint?: Fingerprint) {}

  begin(label: string): void {
    this.label = label;
    this.fingerprint?.begin(label);
  }

  add(inRoot: string, rel: string, st: WalkStat, host: string): void {
    const type = entryType(st);
    const link = type === 'symlink' ? readlinkSync(host) : '';
    this.out.push({
      inRoot, host, label: `${this.label}/${rel}`, type,
      mode: st.mode & 0o7777,
      uid: this.tree.forceRootOwnership ? 0 : st.uid,
      gid: this.tree.forceRootOwnership ? 0 : st.gid,
      link,
      nlink: st.nlink,
      digest: '',
      dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs,
    });
    this.fingerprint?.add(rel, st, link);
  }
}

// Yield to the event loop now and then during a synchronous walk, so a
// huge context does not freeze the progress display.
const YIELD_EVERY = 2000;
// Files hashed at once on a checksum cache miss: keeps the disk busy.
const HASH_CONCURRENCY = 8;
// Smaller files are read in one call instead of a stream.
const READ_WHOLE_MAX = 1 << 20;
// Files up to this size are hashed by synchronous reads on a cache miss.
const READ_SYNC_MAX = 256 << 10;
// How long synchronous hashing may hold the event loop at a time.
const SYNC_BATCH_MS = 8;

async function collect(tree: SourceTree, srcPath: string, label: string, options: CollectOptions, sink: Collector): Promise<void> {
  // The top-level source is followed like COPY does; below it nothing is.
  const resolved = await tree.resolve(srcPath, true);
  const st = resolved.exists ? await tree.lstat(resolved.inRoot) : null;
  if (!st) return;
  sink.begin(label);
  const filtered = options.include !== undefined || options.exclude !== undefined;
  const add = (inRoot: string, rel: string, entrySt: WalkStat, host: string) => {
    if (filtered && rel !== '' && (!(options.include?.matches(rel) ?? true) || options.exclude?.matches(rel))) return;
    sink.add(inRoot, rel, entrySt, host);
  };
  add(resolved.inRoot, '', st, tree.hostPath(resolved.inRoot));
  if (!st.isDirectory()) return;
  if (tree instanceof BuildContext) await walkContext(tree, resolved.inRoot, isClean(tree, resolved.inRoot), add);
  else await walkTree(tree, resolved.inRoot, '', add);
}

async function walkTree(tree: SourceTree, dirInRoot: string, dirRel: string, add: (inRoot: string, rel: string, st: WalkStat, host: string) => void): Promise<void> {
  for (const name of await tree.readdir(dirInRoot)) {
    const child = dirInRoot === '/' ? `/${name}` : `${dirInRoot}/${name}`;
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    const childSt = await tree.lstat(child);
    if (!childSt) continue;
    add(child, rel, childSt, tree.hostPath(child));
    if (childSt.isDirectory()) await walkTree(tree, child, rel, add);
  }
}

// The build context's fast path: one synchronous lstat per entry (a warm
// rebuild does nothing else per file). Below a directory that no ignore
// pattern matches, an entry is visible exactly when no pattern matches it
// (BuildContext.isVisible's rule); anything else asks the context.
async function walkContext(ctx: BuildContext, start: string, startClean: boolean, add: (inRoot: string, rel: string, st: WalkStat, host: string) => void): Promise<void> {
  let sinceYield = 0;
  // The memo lookup's native check may have just lstat'ed these entries (prestat.ts).
  const pre = prestatOf(ctx.root);
  const noIgnore = ctx.ignore.isEmpty;
  // `child` is made of names readdir returned: appending it to the root
  // cannot leave the context, so the in-root resolver is not needed here.
  const root = ctx.root === '/' ? '' : ctx.root;
  const walk = async (dirInRoot: string, dirRel: string, clean: boolean): Promise<void> => {
    for (const name of readdirSync(root + dirInRoot)) {
      const child = dirInRoot === '/' ? `/${name}` : `${dirInRoot}/${name}`;
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const childClean = clean && (noIgnore || !ctx.ignore.matches(child.slice(1)));
      if (!childClean && !(await ctx.isVisible(child))) continue;
      const host = root + child;
      const childSt = pre?.stat(child.slice(1)) ?? lstatSync(host, { throwIfNoEntry: false });
      if (!childSt) continue;
      add(child, rel, childSt, host);
      if (childSt.isDirectory()) await walk(child, rel, childClean);
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  await walk(start, '', startClean);
}

function isClean(ctx: BuildContext, inRoot: string): boolean {
  const parts = inRoot.split('/').filter((p) => p !== '');
  for (let i = 1; i <= parts.length; i++) if (ctx.ignore.matches(parts.slice(0, i).join('/'))) return false;
  return true;
}

/**
 * Hashes the files the cache did not know. Small files are read by
 * synchronous calls, a batch at a time between turns of the event loop:
 * three syscalls each (open, read, close: the size is known from the walk),
 * where readFile's four threadpool round trips cost several times that
 * (5,000 files of 8 KiB, a cold build's COPY . on 2 cores: 0.6 s async,
 * about 0.15 s so). Bigger files stream in on the threadpool, a few at once.
 */
async function hashMisses(found: Found[], cache: ContentHashCache | undefined): Promise<void> {
  const misses = found.filter((f) => f.type === 'file' && f.digest === '');
  const big = misses.filter((f) => f.size > READ_SYNC_MAX);
  let next = 0;
  const worker = async () => {
    while (next < big.length) {
      const f = big[next++]!;
      f.digest = await fileDigest(f.host, f, cache);
    }
  };
  const bigDone = Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, big.length) }, worker));
  const buf = Buffer.allocUnsafe(READ_SYNC_MAX + 1);
  let batchStart = monotonicMs();
  for (const f of misses) {
    if (f.size > READ_SYNC_MAX) continue;
    const digest = smallFileDigestSync(f.host, buf);
    // It grew past what a synchronous read takes: hash it like a big one.
    f.digest = digest ?? await fileDigest(f.host, f, undefined);
    cache?.set(f.host, statKey(f), f.digest);
    if (monotonicMs() - batchStart > SYNC_BATCH_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      batchStart = monotonicMs();
    }
  }
  await bigDone;
}

/** `sha256:<hex>` of a file of at most buf.length - 1 bytes; undefined when it is longer. */
function smallFileDigestSync(hostPath: string, buf: Buffer): string | undefined {
  const fd = openSync(hostPath, fsc.O_RDONLY);
  let len = 0;
  try {
    for (let n; len < buf.length && (n = readSync(fd, buf, len, buf.length - len, null)) > 0; ) len += n;
  } finally {
    closeSync(fd);
  }
  if (len === buf.length) return undefined;
  return `sha256:${createHash('sha256').update(buf.subarray(0, len)).digest('hex')}`;
}

function checksumOfLines(found: readonly Found[]): string {
  // Sorted by the default (code unit) order, without a comparator callback:
  // lines start with the unique label, so no two are equal.
  const sorted = found.map(lineOf).sort();
  // One update of the joined lines: 5,000 small updates cost more than the hashing.
  return `sha256:${createHash('sha256').update(`${SELECTION_SCHEMA}\n${sorted.join('\n')}\n`).digest('hex')}`;
}

/** The line hashed into the checksum (its sort order is the checksum's). */
function lineOf(f: Found): string {
  return `${JSON.stringify(f.label)}\0${f.type}\0${f.mode.toString(8)}\0${f.uid}\0${f.gid}\0${JSON.stringify(f.link)}\0${f.digest}`;
}

function entryOf(f: Found): SelectionEntry {
  return { path: f.inRoot.startsWith('/') && !f.inRoot.startsWith('//') ? f.inRoot.slice(1) : f.inRoot.replace(/^\/+/, ''), type: f.type, mode: f.mode.toString(8), uid: f.uid, gid: f.gid, link: f.link, digest: f.digest };
}
