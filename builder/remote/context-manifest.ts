// The client's half of the context sync: the context directory seen
// through its ignore rules, as a manifest of paths, metadata and content
// digests. Digests come through a persistent stat-based checksum cache on
// the client (as for local builds), so a rebuild re-reads only files whose
// stat identity changed.
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { BuildContext } from '../context/context.js';
import { fileDigest } from '../context/checksum.js';
import { PersistentChecksumCache } from '../../cache/checksum-cache.js';
import type { ManifestEntry } from './protocol.js';

export interface ContextManifest {
  contextId: string;
  entries: ManifestEntry[];
  /** digest → host path of one file with that content, for the upload. */
  sources: Map<string, { path: string; size: number }>;
}

function clientCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tsbuild', 'checksums');
}

export async function buildManifest(contextDir: string, dockerfilePath: string | undefined): Promise<ContextManifest> {
  const context = await BuildContext.open(contextDir, { dockerfilePath });
  const listed = await context.list();
  const cache = await PersistentChecksumCache.open(clientCacheDir(), context.root);
  const entries: ManifestEntry[] = [];
  const sources = new Map<string, { path: string; size: number }>();
  const files: { entry: ManifestEntry; host: string; st: Stats }[] = [];
  for (const e of listed) {
    // Devices, fifos and sockets are not sent (BuildKit's file sync skips them too).
    if (e.type !== 'file' && e.type !== 'dir' && e.type !== 'symlink') continue;
    const entry: ManifestEntry = { path: e.path, type: e.type, mode: e.mode, mtimeMs: e.mtimeMs };
    if (e.type === 'symlink') entry.link = e.linkTarget;
    if (e.type === 'file') {
      entry.size = e.size;
      files.push({ entry, host: path.join(context.root, e.path), st: { dev: e.dev, ino: e.ino, size: e.size, mtimeMs: e.mtimeMs, ctimeMs: e.ctimeMs } as Stats });
    }
    entries.push(entry);
  }
  // Cache hits cost nothing; misses read files, a few at a time.
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++]!;
      f.entry.digest = await fileDigest(f.host, f.st, cache);
      if (!sources.has(f.entry.digest)) sources.set(f.entry.digest, { path: f.host, size: f.st.size });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await cache.save().catch(() => false);
  const contextId = createHash('sha256').update(`${os.hostname()}\0${os.userInfo().username}\0${context.root}`).digest('hex');
  return { contextId, entries, sources };
}
