// The server's side of the context sync. File contents arrive once, into a
// content-addressed store of their own (`<root>/context/blobs`); a build's
// context is a directory materialised from the client's manifest. Each
// client context (its id) keeps one warm directory that is updated in
// place: a rebuild rewrites only the files whose digest, mode or mtime
// changed, so unchanged files keep their inode and the store's stat-based
// checksum cache stays valid. A second build of the same context while the
// first still runs gets a fresh directory of its own.
//
// The server remembers, in memory, the manifests it received lately (by
// their digest, which it computed itself) and which manifest each warm tree
// holds: a client whose context did not change sends the digest alone, and
// its build starts without a file being looked at.
import { createHash } from '../../runner-native/native-crypto.js';
import { copyFile, chmod, lstat, lutimes, mkdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import type { ContentStore } from '../../cache/content-store.js';
import { contextCacheLayout, removeContextTree, treeManifestFile } from '../../cache/context-gc.js';
import type { Digest } from '../../cache/digest.js';
import type { ManifestEntry } from '../remote/protocol.js';
import { manifestDigest, sameEntry } from '../remote/manifest-digest.js';
import { RemoteError } from '../remote/errors.js';

export interface MaterializedContext {
  dir: string;
  /** Files written or changed for this build (0 on a no-op rebuild). */
  written: number;
  release(): Promise<void>;
}

/** Asks the client for the contents the server lacks and resolves once they were uploaded. */
export type FetchBlobs = (digests: string[]) => Promise<void>;

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
// Manifests kept in memory, by total entries: a 5,000-file context is ~1 MB.
const REMEMBERED_ENTRIES = 1_000_000;

interface TreeState {
  digest: string;
  entries: Map<string, ManifestEntry>;
  /** The manifest file beside the tree as this process wrote or read it: a prune that removed the tree removed it too. */
  fileId: string;
}

export class ContextCache {
  readonly blobs: ContentStore;
  private readonly busy = new Set<string>();
  private tempCounter = 0;
  // Insertion order is use order: the oldest go first.
  private readonly manifests = new Map<string, ManifestEntry[]>();
  private rememberedEntries = 0;
  private readonly trees = new Map<string, TreeState>();

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

  /** A manifest this server received lately, by its digest. */
  knownManifest(digest: string): ManifestEntry[] | undefined {
    const entries = this.manifests.get(digest);
    if (entries) {
      this.manifests.delete(digest);
      this.manifests.set(digest, entries);
    }
    return entries;
  }

  /** Checks a manifest a client sent and returns its digest, as computed here; it is then known by it. */
  acceptManifest(manifest: unknown): string {
    validateManifest(manifest);
    const digest = manifestDigest(manifest);
    if (this.manifests.has(digest)) return digest;
    this.manifests.set(digest, manifest);
    this.rememberedEntries += manifest.length;
    for (const [d, entries] of this.manifests) {
      if (this.rememberedEntries <= REMEMBERED_ENTRIES || d === digest) break;
      this.manifests.delete(d);
      this.rememberedEntries -= entries.length;
    }
    return digest;
  }

  /**
   * A directory holding `manifest`. `synced` names it by the digest
   * acceptManifest returned (which checked it) and asks the client for the
   * contents it needs and the server lacks; without it the manifest is
   * checked here and every content must already be in the cache.
   */
  async materialize(contextId: string, manifest: ManifestEntry[], synced?: { digest: string; fetch: FetchBlobs }): Promise<MaterializedContext> {
    const digest = synced?.digest ?? this.acceptManifest(manifest);
    const fetch = synced?.fetch ?? (async () => undefined);
    const key = treeKey(contextId);
    if (this.opts.warmTrees && !this.busy.has(key)) {
      this.busy.add(key);
      const dir = path.join(this.base, 'trees', key);
      const release = async () => void this.busy.delete(key);
      let touched = false;
      try {
        const old = await this.treeState(key, dir);
        if (old?.digest === digest) {
          // Used again unchanged: its last use (the collector goes by it) is
          // now; touching it leaves its identity (dev:ino:size) as it was.
          await touchManifest(dir);
          this.trees.set(key, old);
          return { dir, written: 0, release };
        }
        const plan = planUpdate(manifest, old?.entries ?? new Map());
        // Until the contents are here the tree is as it was: a client that goes away now costs it nothing.
        await this.fetchNeeded(plan, fetch);
        touched = true;
        const written = await this.apply(dir, manifest, plan, old === undefined);
        this.trees.set(key, { digest, entries: plan.wanted, fileId: await fileIdOf(manifestFile(dir)) });
        return { dir, written, release };
      } catch (err) {
        // A half-updated tree is not trusted next time: its manifest is gone.
        this.trees.delete(key);
        if (touched) await rm(manifestFile(dir), { force: true });
        await release();
        throw err;
      }
    }
    const dir = path.join(this.base, 'tmp', `${process.pid}-${++this.tempCounter}`);
    try {
      const plan = planUpdate(manifest, new Map());
      await this.fetchNeeded(plan, fetch);
      const written = await this.apply(dir, manifest, plan, true);
      return { dir, written, release: () => removeContextTree(dir) };
    } catch (err) {
      await removeContextTree(dir);
      throw err;
    }
  }

  /** A build answered without the tree (the server's memo) still uses it: the collector goes by its last use. */
  async touch(contextId: string): Promise<void> {
    await touchManifest(path.join(this.base, 'trees', treeKey(contextId)));
  }

  // What the warm tree holds: from memory while its manifest file is the
  // one this process saw, else from that file (a restarted server).
  private async treeState(key: string, dir: string): Promise<TreeState | undefined> {
    const known = this.trees.get(key);
    const fileId = await fileIdOf(manifestFile(dir));
    if (known && known.fileId === fileId && fileId !== '') return known;
    this.trees.delete(key);
    const entries = await readManifest(dir);
    return entries.size === 0 ? undefined : { digest: manifestDigest([...entries.values()]), entries, fileId };
  }

  /** Only the contents an update writes must be here: the client uploads those the server lacks. */
  private async fetchNeeded(plan: UpdatePlan, fetch: FetchBlobs): Promise<void> {
    let missing = await this.missing(plan.changed.filter((e) => e.type === 'file').map((e) => e.digest));
    if (missing.length === 0) return;
    await fetch(missing);
    missing = await this.missing(missing);
    if (missing.length > 0) throw new RemoteError('REMOTE_PROTOCOL', `context incomplete: ${missing.length} file content(s) were not uploaded (first: ${missing[0]})`);
  }

  /** Carries out a plan in `dir` (emptied first when `fresh`); returns how many entries it wrote. */
  private async apply(dir: string, manifest: ManifestEntry[], plan: UpdatePlan, fresh: boolean): Promise<number> {
    if (fresh) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const e of plan.stale) await rm(path.join(dir, e.path), { recursive: true, force: true });
    for (const e of plan.changed) {
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
    const written = plan.stale.length + plan.changed.length;
    if (written > 0) {
      // Children changed the directories' mtimes: restore them, innermost first.
      const dirs = manifest.filter((e) => e.type === 'dir').reverse();
      for (const e of dirs) await utimes(path.join(dir, e.path), e.mtimeMs / 1000, e.mtimeMs / 1000);
      await writeFile(`${manifestFile(dir)}.tmp`, JSON.stringify(manifest));
      await rename(`${manifestFile(dir)}.tmp`, manifestFile(dir));
    } else {
      await touchManifest(dir);
    }
    return written;
  }
}

/** The warm tree of a client context: named by a hash of its id, which the client chose. */
function treeKey(contextId: string): string {
  return createHash('sha256').update(String(contextId)).digest('hex').slice(0, 32);
}

interface UpdatePlan {
  /** Gone or changed type: removed first, deepest first, so nothing is written through a stale symlink. */
  stale: ManifestEntry[];
  /** New or different entries, in manifest order (parents first). */
  changed: ManifestEntry[];
  /** The manifest by path: what the tree holds once the plan is carried out. */
  wanted: Map<string, ManifestEntry>;
}

function planUpdate(manifest: ManifestEntry[], old: Map<string, ManifestEntry>): UpdatePlan {
  const wanted = new Map(manifest.map((e) => [e.path, e]));
  const stale = [...old.values()].filter((e) => wanted.get(e.path)?.type !== e.type).sort((a, b) => b.path.length - a.path.length);
  const changed = manifest.filter((e) => {
    const prev = old.get(e.path);
    return !(prev !== undefined && sameEntry(prev, e));
  });
  return { stale, changed, wanted };
}

/** The manifest's mtime is the context's last use, which the collector goes by. */
async function touchManifest(dir: string): Promise<void> {
  const now = new Date();
  await utimes(manifestFile(dir), now, now).catch(() => undefined);
}

async function fileIdOf(file: string): Promise<string> {
  const st = await stat(file).catch(() => undefined);
  // Not its mtime: every use touches it. Only this process writes a warm tree's manifest.
  return st ? `${st.dev}:${st.ino}:${st.size}` : '';
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
    // No warm copy (or a damaged one): update() starts from an empty directory.
  }
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
  // A plain loop with string scans: a changed context's build waits for this over thousands of entries.
  for (const e of manifest as ManifestEntry[]) {
    const why = entryProblem(e, dirs, seen);
    if (why) throw new RemoteError('REMOTE_PROTOCOL', `bad manifest entry ${JSON.stringify((e as { path?: unknown })?.path)}: ${why}`);
  }
}

function entryProblem(e: ManifestEntry, dirs: Set<string>, seen: Set<string>): string | undefined {
  if (typeof e !== 'object' || e === null || typeof e.path !== 'string') return 'no path';
  const p = e.path;
  const framed = `/${p}/`;
  if (p === '' || p.includes('\0') || framed.includes('//') || framed.includes('/./') || framed.includes('/../')) return 'not a clean relative path';
  if (p.endsWith('.tsbuild-tmp')) return 'reserved name';
  if (seen.has(p)) return 'listed twice';
  seen.add(p);
  const slash = p.lastIndexOf('/');
  if (!dirs.has(slash < 0 ? '' : p.slice(0, slash))) return 'its parent directory is not listed before it';
  if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) return 'bad mode';
  if (typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs)) return 'bad mtime';
  if (e.type === 'dir') dirs.add(p);
  else if (e.type === 'file') {
    if (typeof e.digest !== 'string' || !DIGEST_RE.test(e.digest)) return 'bad digest';
  } else if (e.type === 'symlink') {
    if (typeof e.link !== 'string' || e.link === '' || e.link.includes('\0')) return 'bad link target';
  } else return 'unsupported type';
  return undefined;
}
