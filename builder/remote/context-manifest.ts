// The client's half of the context sync: the context directory seen
// through its ignore rules, as a manifest of paths, metadata and content
// digests, and the manifest's digest. Digests come through a persistent
// stat-based checksum cache on the client (as for local builds), so an
// unchanged context costs one readdir per directory and one lstat per
// entry: a no-op rebuild then sends the manifest's digest alone.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BuildContext, entryType } from '../context/context.js';
import { fileDigest } from '../context/checksum.js';
import { sortNames } from '../fileops/source-tree.js';
import { PersistentChecksumCache } from '../../cache/checksum-cache.js';
import { manifestDigest } from './manifest-digest.js';
import type { ManifestEntry } from './protocol.js';

export interface ContextManifest {
  contextId: string;
  entries: ManifestEntry[];
  digest: string;
  /** digest → host path of one file with that content, for the upload. */
  sources: Map<string, { path: string; size: number }>;
}

function clientCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tsbuild', 'checksums');
}

interface Pending {
  entry: ManifestEntry;
  host: string;
  st: Stats;
}

export async function buildManifest(contextDir: string, dockerfilePath: string | undefined): Promise<ContextManifest> {
  const [context, cache] = await Promise.all([
    BuildContext.open(contextDir, { dockerfilePath }),
    PersistentChecksumCache.open(clientCacheDir(), path.resolve(contextDir)),
  ]);
  const entries: ManifestEntry[] = [];
  const sources = new Map<string, { path: string; size: number }>();
  const misses: Pending[] = [];
  const addFile = (entry: ManifestEntry, host: string, digest: string, size: number) => {
    entry.digest = digest;
    if (!sources.has(digest)) sources.set(digest, { path: host, size });
  };
  await walk(context, (rel, host, st) => {
    const type = entryType(st);
    // Devices, fifos and sockets are not sent (BuildKit's file sync skips them too).
    if (type !== 'file' && type !== 'dir' && type !== 'symlink') return;
    const entry: ManifestEntry = { path: rel, type, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
    if (type === 'symlink') entry.link = readlinkSync(host);
    if (type === 'file') {
      entry.size = st.size;
      const cached = cache.get(host, st);
      if (cached) addFile(entry, host, cached, st.size);
      else misses.push({ entry, host, st });
    }
    entries.push(entry);
  });
  // Files the cache does not know are read, a few at a time.
  let next = 0;
  const worker = async () => {
    while (next < misses.length) {
      const f = misses[next++]!;
      addFile(f.entry, f.host, await fileDigest(f.host, f.st, cache), f.st.size);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, misses.length) }, worker));
  if (misses.length > 0) await cache.save().catch(() => false);
  const contextId = createHash('sha256').update(`${os.hostname()}\0${os.userInfo().username}\0${context.root}`).digest('hex');
  return { contextId, entries, digest: manifestDigest(entries), sources };
}

// Depth first, names in byte order, a directory before its contents (the
// order BuildContext.list() gives), with synchronous calls: on a warm
// rebuild this walk is most of what the client does. Below a directory no
// ignore pattern matches, an entry is visible exactly when no pattern
// matches it; anything else asks the context (exceptions, `!` patterns).
async function walk(ctx: BuildContext, visit: (rel: string, host: string, st: Stats) => void): Promise<void> {
  const noIgnore = ctx.ignore.isEmpty;
  const root = ctx.root === '/' ? '' : ctx.root;
  const dir = async (rel: string, clean: boolean): Promise<void> => {
    for (const name of sortNames(readdirSync(rel === '' ? ctx.root : `${root}/${rel}`))) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const childClean = clean && (noIgnore || !ctx.ignore.matches(childRel));
      if (!childClean && !(await ctx.isVisible(`/${childRel}`))) continue;
      const host = `${root}/${childRel}`;
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st) continue;
      visit(childRel, host, st);
      if (st.isDirectory()) await dir(childRel, childClean);
    }
  };
  await dir('', true);
}
