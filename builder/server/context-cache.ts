// The server's side of the context sync. File contents arrive once, into a
// content-addressed store of their own (`<root>/context/blobs`); a build's
// context is a directory materialised from the client's manifest. Each
// client context (its id) keeps one warm directory that is updated in
// place: a rebuild rewrites only the files whose digest, mode or mtime
// changed, so unchanged files keep their inode and the store's stat-based
// checksum cache stays valid. A second build of the same context while the
// first still runs gets a fresh directory of its own.
import { createHash } from 'node:crypto';
import { copyFile, chmod, lstat, lutimes, mkdir, readFile, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import type { ContentStore } from '../../cache/content-store.js';
import { contextCacheLayout, removeContextTree, treeManifestFile } from '../../cache/context-gc.js';
import type { Digest } from '../../cache/digest.js';
import type { ManifestEntry } from '../remote/protocol.js';
import { RemoteError } from '../remote/errors.js';

export interface MaterializedContext {
  dir: string;
  /** Files written or changed for this build (0 on a no-op rebuild). */
  written: number;
  release(): Promise<void>;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export class ContextCache {
  readonly blobs: ContentStore;
  private readonly busy = new Set<string>();
  private tempCounter = 0;

  constructor(private readonly base: string, private readonly opts: { warmTrees: boolean } = { warmTrees: true }) {
    this.blobs = contextCacheLayout(base).blobs;
  }

  async missing(digests: unknown): Promise<string[]> {
    if (!Array.isArray(digests) || digests.some((d) => typeof d !== 'string' || !DIGEST_RE.test(d))) {
      throw new RemoteError('REMOTE_PROTOCOL', 'digests must be a list of sha256:<hex>');
    }
    const unique = [...new Set(digests as string[])];
    // Touching a content both tells whether it is here and keeps it from the
    // collector (`prune`, the size limit) for its grace period: the client
    // was told the server has it and will not send it.
    const now = new Date();
    const has = await Promise.all(unique.map((d) => utimes(this.blobs.path(d as Digest), now, now).then(() => true, () => false)));
    return unique.filter((_, i) => !has[i]);
  }

  async materialize(contextId: string, manifest: ManifestEntry[]): Promise<MaterializedContext> {
    validateManifest(manifest);
    const missing = await this.missing(manifest.filter((e) => e.type === 'file').map((e) => e.digest));
    if (missing.length > 0) throw new RemoteError('REMOTE_PROTOCOL', `context incomplete: ${missing.length} file content(s) were not uploaded (first: ${missing[0]})`);
    const key = createHash('sha256').update(String(contextId)).digest('hex').slice(0, 32);
    if (this.opts.warmTrees && !this.busy.has(key)) {
      this.busy.add(key);
      const dir = path.join(this.base, 'trees', key);
      try {
        const written = await this.update(dir, manifest);
        return { dir, written, release: async () => void this.busy.delete(key) };
      } catch (err) {
        // A half-updated tree is not trusted next time: its manifest is gone.
        await rm(manifestFile(dir), { force: true });
        this.busy.delete(key);
        throw err;
      }
    }
    const dir = path.join(this.base, 'tmp', `${process.pid}-${++this.tempCounter}`);
    await rm(dir, { recursive: true, force: true });
    try {
      const written = await this.update(dir, manifest);
      return { dir, written, release: () => removeContextTree(dir) };
    } catch (err) {
      await removeContextTree(dir);
      throw err;
    }
  }

  /** Brings `dir` to the manifest; returns how many entries it wrote. */
  private async update(dir: string, manifest: ManifestEntry[]): Promise<number> {
    const old = await readManifest(dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const wanted = new Map(manifest.map((e) => [e.path, e]));
    // Gone or changed type: removed first, deepest first, so nothing is written through a stale symlink.
    const stale = [...old.values()].filter((e) => wanted.get(e.path)?.type !== e.type).sort((a, b) => b.path.length - a.path.length);
    for (const e of stale) await rm(path.join(dir, e.path), { recursive: true, force: true });
    let written = stale.length;
    for (const e of manifest) {
      const prev = old.get(e.path);
      const same = prev !== undefined && prev.type === e.type && prev.mode === e.mode && prev.mtimeMs === e.mtimeMs && prev.digest === e.digest && prev.link === e.link;
      if (same) continue;
      written++;
      const target = path.join(dir, e.path);
      if (e.type === 'dir') {
        await mkdir(target, { recursive: true });
        await chmod(target, e.mode);
      } else if (e.type === 'file') {
        const tmp = `${target}.tsbuild-tmp`;
        await copyFile(this.blobs.path(e.digest as Digest), tmp, fsc.COPYFILE_FICLONE);
        await chmod(tmp, e.mode);
        await utimes(tmp, e.mtimeMs / 1000, e.mtimeMs / 1000);
        await rename(tmp, target);
      } else {
        await rm(target, { force: true });
        await symlink(e.link!, target);
        await lutimes(target, e.mtimeMs / 1000, e.mtimeMs / 1000);
      }
    }
    if (written > 0) {
      // Children changed the directories' mtimes: restore them, innermost first.
      const dirs = manifest.filter((e) => e.type === 'dir').reverse();
      for (const e of dirs) await utimes(path.join(dir, e.path), e.mtimeMs / 1000, e.mtimeMs / 1000);
      await writeFile(`${manifestFile(dir)}.tmp`, JSON.stringify(manifest));
      await rename(`${manifestFile(dir)}.tmp`, manifestFile(dir));
    } else {
      // Used again unchanged: its last use is now.
      const now = new Date();
      await utimes(manifestFile(dir), now, now).catch(() => undefined);
    }
    return written;
  }
}

// Beside the tree, never inside it: the build must not see it. Its mtime is
// the context's last use, which the collector goes by.
const manifestFile = treeManifestFile;

async function readManifest(dir: string): Promise<Map<string, ManifestEntry>> {
  try {
    const entries = JSON.parse(await readFile(manifestFile(dir), 'utf8')) as ManifestEntry[];
    // The tree must still be there for the manifest to describe it.
    if ((await lstat(dir)).isDirectory()) return new Map(entries.map((e) => [e.path, e]));
  } catch {
    // No warm copy (or a damaged one): start from an empty directory.
  }
  await rm(dir, { recursive: true, force: true });
  return new Map();
}

// Everything a client sends is checked before a byte is written: relative,
// clean paths whose parents are directories of the same manifest, known
// types, digests of the right shape. A hostile manifest cannot write
// outside the tree.
export function validateManifest(manifest: unknown): asserts manifest is ManifestEntry[] {
  if (!Array.isArray(manifest)) throw new RemoteError('REMOTE_PROTOCOL', 'manifest must be a list');
  const dirs = new Set<string>(['']);
  const seen = new Set<string>();
  for (const e of manifest as ManifestEntry[]) {
    const bad = (why: string) => new RemoteError('REMOTE_PROTOCOL', `bad manifest entry ${JSON.stringify((e as { path?: unknown })?.path)}: ${why}`);
    if (typeof e !== 'object' || e === null || typeof e.path !== 'string') throw bad('no path');
    const parts = e.path.split('/');
    if (e.path === '' || parts.some((p) => p === '' || p === '.' || p === '..') || e.path.includes('\0')) throw bad('not a clean relative path');
    if (e.path.endsWith('.tsbuild-tmp')) throw bad('reserved name');
    if (seen.has(e.path)) throw bad('listed twice');
    seen.add(e.path);
    if (!dirs.has(parts.slice(0, -1).join('/'))) throw bad('its parent directory is not listed before it');
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) throw bad('bad mode');
    if (typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs)) throw bad('bad mtime');
    if (e.type === 'dir') dirs.add(e.path);
    else if (e.type === 'file') {
      if (typeof e.digest !== 'string' || !DIGEST_RE.test(e.digest)) throw bad('bad digest');
    } else if (e.type === 'symlink') {
      if (typeof e.link !== 'string' || e.link === '' || e.link.includes('\0')) throw bad('bad link target');
    } else throw bad('unsupported type');
  }
}
