/**
 * Content checksums of what a COPY would read, for cache keys: sha256 over
 * the sorted records (path, type, mode, uid, gid, link target, content
 * digest) of every selected entry — never mtimes, so touching a file without
 * changing it keeps the cache. File digests are remembered by stat identity
 * (dev, ino, size, mtime, ctime) so unchanged files are not re-read.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { planSources } from '../fileops/sources.js';
import type { SourceTree } from '../fileops/source-tree.js';
import { containsWildcards, resolveWildcards } from '../fileops/wildcard.js';
import { entryType } from './context.js';
import { PatternMatcher } from './pattern-matcher.js';

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
   * miss can name the files that changed (builder/build/explain*.ts).
   */
  noteSelection?(digest: string, entries: readonly SelectionEntry[]): void;
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

export function statKey(st: Stats): StatKey {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** `sha256:<hex>` of a file's bytes, through the cache when given. */
export async function fileDigest(hostPath: string, st: Stats, cache?: ContentHashCache): Promise<string> {
  const key = statKey(st);
  const cached = cache?.get(hostPath, key);
  if (cached) return cached;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(hostPath)) hash.update(chunk as Buffer);
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
}

/**
 * Checksum of the files COPY would read for these source patterns (as
 * written in the Dockerfile: paths, wildcards, `/./` pivots with parents).
 * Missing literal sources fail like COPY does.
 */
export async function checksumSelection(tree: SourceTree, patterns: readonly string[], options: SelectionOptions = {}): Promise<string> {
  const exclude = options.exclude?.length ? new PatternMatcher(options.exclude) : undefined;
  const items = await planSources(patterns, tree, { instruction: 'COPY', parents: options.parents ?? false });
  const records: SelectedRecord[] = [];
  for (const item of items) {
    if (item.kind === 'path') {
      await collect(tree, item.path, `${item.group}:${item.path}`, { exclude, cache: options.cache }, records);
    } else if (item.kind === 'parents') {
      const include = item.pattern === '' ? undefined : new PatternMatcher([item.pattern]);
      const bases = containsWildcards(item.base) ? await resolveWildcards(tree, item.base) : [item.base];
      for (const base of bases) await collect(tree, base, `${item.group}:${base}`, { exclude, include, cache: options.cache }, records);
    }
  }
  records.sort((a, b) => (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
  const hash = createHash('sha256').update(`${SELECTION_SCHEMA}\n`);
  for (const record of records) hash.update(`${record.line}\n`);
  const digest = `sha256:${hash.digest('hex')}`;
  options.cache?.noteSelection?.(digest, records.map((r) => r.entry));
  return digest;
}

interface SelectedRecord {
  /** The line hashed into the checksum (its sort order is the checksum's). */
  readonly line: string;
  readonly entry: SelectionEntry;
}

interface CollectOptions {
  readonly exclude?: PatternMatcher;
  readonly include?: PatternMatcher;
  readonly cache?: ContentHashCache;
}

async function collect(tree: SourceTree, srcPath: string, label: string, options: CollectOptions, out: SelectedRecord[]): Promise<void> {
  // The top-level source is followed like COPY does; below it nothing is.
  const resolved = await tree.resolve(srcPath, true);
  const st = resolved.exists ? await tree.lstat(resolved.inRoot) : null;
  if (!st) return;
  const visit = async (inRoot: string, rel: string, entrySt: Stats): Promise<void> => {
    const included = rel === '' || ((options.include?.matches(rel) ?? true) && !options.exclude?.matches(rel));
    if (included) out.push(await record(tree, inRoot, `${label}/${rel}`, entrySt, options.cache));
    if (!entrySt.isDirectory()) return;
    for (const name of await tree.readdir(inRoot)) {
      const child = inRoot === '/' ? `/${name}` : `${inRoot}/${name}`;
      const childSt = await tree.lstat(child);
      if (childSt) await visit(child, rel === '' ? name : `${rel}/${name}`, childSt);
    }
  };
  await visit(resolved.inRoot, '', st);
}

async function record(tree: SourceTree, inRoot: string, label: string, st: Stats, cache?: ContentHashCache): Promise<SelectedRecord> {
  const uid = tree.forceRootOwnership ? 0 : st.uid;
  const gid = tree.forceRootOwnership ? 0 : st.gid;
  const host = tree.hostPath(inRoot);
  const link = st.isSymbolicLink() ? await readlink(host) : '';
  const digest = st.isFile() ? await fileDigest(host, st, cache) : '';
  const type = entryType(st);
  const mode = (st.mode & 0o7777).toString(8);
  const line = [JSON.stringify(label), type, mode, uid, gid, JSON.stringify(link), digest].join('\0');
  return { line, entry: { path: inRoot.replace(/^\/+/, ''), type, mode, uid, gid, link, digest } };
}
