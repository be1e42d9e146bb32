/**
 * COPY and ADD with BuildKit's semantics, writing into a rootfs directory.
 * The caller hands over plain data (the parsed instruction's sources, dest,
 * flags, the WORKDIR) plus where to read from (the build context, or another
 * stage's rootfs for --from) and the rootfs to write into.
 *
 * Placement rules (fsutil's Copy + prepareTargetDir):
 *  - a directory source copies its CONTENTS into dest (created when missing);
 *  - a file source goes to dest, or inside dest when dest is a directory;
 *  - dest ending in `/` is a directory; missing parents are created (0755,
 *    or the octal --chmod; owned by the --chown user);
 *  - several sources require dest to end in `/` or be an existing directory;
 *  - the top-level source path is followed if it is a symlink (resolved
 *    inside its own root); symlinks found below are copied as symlinks.
 * ADD additionally extracts local tar archives (detected by content) and
 * downloads http(s) URLs. --link only changes how the caller builds layers.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PatternMatcher } from '../patterns/pattern-matcher.js';
import { detectTarArchive, openDecompressed, type Compression } from './archive.js';
import { parseChown, resolveChown, type Owner } from './chown.js';
import { emptySummary, TreeCopier, type CopySummary } from './copy-tree.js';
import type { FileReuse } from './file-reuse.js';
import { InvalidSourceError, MultipleSourcesNeedDirError, SourceNotFoundError } from './errors.js';
import { extractTar } from './extract.js';
import { downloadUrl, isHttpUrl, parseChecksum } from './fetch-url.js';
import { cloneGit, parseGitUrl } from './git-clone.js';
import { lstatSyncOrNull, mkdirAllInRoot } from './fs-write.js';
import { CREATED_DIR_MODE, parseChmod, type ModeSpec } from './mode.js';
import { resolveInRoot } from './resolve.js';
import { DirectorySource, type SourceTree } from './source-tree.js';
import { planSources, type CopySource, type PlannedItem } from './sources.js';
import { containsWildcards, resolveWildcards } from './wildcard.js';

export type { CopySource, HeredocSource } from './sources.js';
export type { CopySummary } from './copy-tree.js';

export interface CopyOp {
  readonly instruction: 'COPY' | 'ADD';
  readonly sources: readonly CopySource[];
  /** Absolute, or relative to `workdir`. A trailing `/` makes it a directory. */
  readonly dest: string;
  /** The stage's WORKDIR (absolute); default `/`. */
  readonly workdir?: string;
  /** `user[:group]`, names or numeric ids. */
  readonly chown?: string;
  /** Octal (`755`) or symbolic (`u+x,go=rX`). */
  readonly chmod?: string;
  /** Accepted; only affects how the caller turns the result into a layer. */
  readonly link?: boolean;
  readonly parents?: boolean;
  /** --exclude patterns, matched against paths relative to each copied source. */
  readonly exclude?: readonly string[];
  /** ADD --checksum=sha256:<hex>, for a single http(s) source. */
  readonly checksum?: string;
  /** ADD --unpack: default true for local archives, false for URLs. */
  readonly unpack?: boolean;
  /** ADD <git url> --keep-git-dir: keep the repository's .git directory. */
  readonly keepGitDir?: boolean;
}

export interface CopyEnv {
  /** Host directory of the rootfs to write into. */
  readonly destRoot: string;
  /** Where sources are read: a BuildContext, or a DirectorySource over a stage/image rootfs. */
  readonly source: SourceTree;
  /** Root whose /etc/passwd and /etc/group resolve --chown names; default destRoot (differs for --link). */
  readonly userDbRoot?: string;
  /** Scratch space for heredocs and downloads; default the OS temp dir. */
  readonly tmpDir?: string;
  readonly signal?: AbortSignal;
  /** Where files unchanged since this step's previous run can be linked from (file-reuse.ts). */
  readonly reuse?: FileReuse;
}

export interface CopyResult extends CopySummary {
  archivesExtracted: number;
  downloads: number;
}

interface Destination {
  /** Normalised absolute in-root path, without trailing slash. */
  readonly path: string;
  /** Written with a trailing `/` (or `/.`): always a directory. */
  readonly isDir: boolean;
}

/** Resolve dest against WORKDIR, keeping the meaning of a trailing slash. */
export function normalizeDest(dest: string, workdir = '/'): Destination {
  const abs = path.posix.resolve('/', workdir, dest);
  return { path: abs, isDir: dest.endsWith('/') || dest.endsWith('/.') };
}

interface Job {
  readonly op: CopyOp;
  readonly env: CopyEnv;
  readonly dest: Destination;
  readonly owner: Owner | null;
  readonly mode: ModeSpec | undefined;
  readonly exclude: PatternMatcher | undefined;
  readonly result: CopyResult;
  scratch: string | null;
}

export async function copy(op: CopyOp, env: CopyEnv): Promise<CopyResult> {
  const mode = op.chmod !== undefined && op.chmod !== '' ? parseChmod(op.chmod) : undefined;
  const chownSpec = op.chown !== undefined && op.chown !== '' ? parseChown(op.chown) : undefined;
  validateChecksum(op);
  const dest = normalizeDest(op.dest, op.workdir);
  const items = await planSources(op.sources, env.source, { instruction: op.instruction, parents: op.parents ?? false });
  await checkDestination(items, dest, env.destRoot, op.instruction);
  const owner = chownSpec ? await resolveChown(env.userDbRoot ?? env.destRoot, chownSpec) : null;
  const job: Job = {
    op,
    env,
    dest,
    owner,
    mode,
    exclude: op.exclude?.length ? new PatternMatcher(op.exclude) : undefined,
    result: { ...emptySummary(), archivesExtracted: 0, downloads: 0 },
    scratch: null,
  };
  try {
    // One copier per source argument: hard links are kept within one source.
    const copiers = new Map<number, TreeCopier>();
    for (const item of items) {
      env.signal?.throwIfAborted();
      await runItem(job, item, copiers);
    }
  } finally {
    if (job.scratch) await rm(job.scratch, { recursive: true, force: true });
  }
  return job.result;
}

function validateChecksum(op: CopyOp): void {
  if (op.checksum === undefined) return;
  if (op.instruction !== 'ADD') throw new InvalidSourceError('CHECKSUM_NOT_ALLOWED', "checksum can't be specified for COPY");
  if (op.sources.length !== 1) throw new InvalidSourceError('CHECKSUM_NOT_ALLOWED', "checksum can't be specified for multiple sources");
  const src = op.sources[0];
  if (typeof src !== 'string' || !isHttpUrl(src)) throw new InvalidSourceError('CHECKSUM_NOT_ALLOWED', 'checksum requires HTTP(S) sources');
  parseChecksum(op.checksum);
}

async function checkDestination(items: PlannedItem[], dest: Destination, destRoot: string, instruction: string): Promise<void> {
  const count = items.filter((i) => i.kind !== 'parents').length;
  if (count <= 1 || dest.isDir) return;
  const resolved = await resolveInRoot(destRoot, dest.path);
  const st = resolved.exists ? lstatSyncOrNull(resolved.host) : null;
  if (!st?.isDirectory()) throw new MultipleSourcesNeedDirError(instruction);
}

function copierFor(job: Job, copiers: Map<number, TreeCopier>, group: number, tree: SourceTree, include?: PatternMatcher): TreeCopier {
  let copier = copiers.get(group);
  if (!copier) {
    copier = new TreeCopier(tree, {
      destRoot: job.env.destRoot,
      owner: job.owner,
      mode: job.mode,
      exclude: job.exclude,
      include,
      summary: job.result,
      reuse: job.env.reuse,
    });
    copiers.set(group, copier);
  }
  return copier;
}

async function runItem(job: Job, item: PlannedItem, copiers: Map<number, TreeCopier>): Promise<void> {
  const tree = job.env.source;
  switch (item.kind) {
    case 'path': {
      const src = await tree.resolve(item.path, true);
      const st = src.exists ? await tree.lstat(src.inRoot) : null;
      if (!st) throw new SourceNotFoundError(item.spec, tree.description, src.linksFollowed > 0 ? src.inRoot : undefined);
      const unpack = job.op.instruction === 'ADD' && (job.op.unpack ?? true);
      if (unpack && st.isFile()) {
        const compression = await detectTarArchive(tree.hostPath(src.inRoot));
        if (compression) return extractInto(job, tree.hostPath(src.inRoot), compression, item.spec);
      }
      return place(job, copierFor(job, copiers, item.group, tree), src.inRoot, path.posix.basename(item.path), st, true);
    }
    case 'parents': {
      const include = item.pattern === '' ? undefined : new PatternMatcher([item.pattern]);
      const copier = copierFor(job, copiers, item.group, tree, include);
      const bases = containsWildcards(item.base) ? await resolveWildcards(tree, item.base) : [item.base];
      for (const base of bases) {
        const src = await tree.resolve(base, true);
        const st = src.exists ? await tree.lstat(src.inRoot) : null;
        if (!st) throw new SourceNotFoundError(item.spec, tree.description);
        await place(job, copier, src.inRoot, path.posix.basename(base), st, true);
      }
      return;
    }
    case 'heredoc': {
      const dir = await mkdtemp(path.join(await scratchDir(job), 'heredoc-'));
      const name = path.posix.basename(item.heredoc.name) || 'heredoc';
      const file = path.join(dir, name);
      await writeFile(file, item.heredoc.content);
      await chmod(file, item.heredoc.mode ?? 0o644);
      const heredocTree = new DirectorySource(dir, { forceRootOwnership: true, description: 'heredoc' });
      const st = (await heredocTree.lstat(`/${name}`))!;
      return place(job, new TreeCopier(heredocTree, copierOptions(job)), `/${name}`, name, st, false);
    }
    case 'git': {
      // The repository's files (at #ref, under :subdir) land in dest, as a directory's contents.
      const { remote, ref, subdir } = parseGitUrl(item.url);
      const dir = await mkdtemp(path.join(await scratchDir(job), 'git-'));
      await cloneGit(remote, ref, path.join(dir, 'repo'), job.op.keepGitDir ?? false);
      const repoTree = new DirectorySource(path.join(dir, 'repo'), { forceRootOwnership: true, description: 'git repository' });
      const inRoot = path.posix.join('/', subdir);
      const st = await repoTree.lstat(inRoot);
      if (!st) throw new SourceNotFoundError(subdir, 'git repository');
      return place(job, new TreeCopier(repoTree, copierOptions(job)), inRoot, path.posix.basename(inRoot), st, true);
    }
    case 'url': {
      const dir = await mkdtemp(path.join(await scratchDir(job), 'download-'));
      const file = await downloadUrl(item.url, dir, { checksum: job.op.checksum, signal: job.env.signal });
      job.result.downloads++;
      if (job.op.unpack === true) {
        const compression = await detectTarArchive(file.hostPath);
        if (compression) return extractInto(job, file.hostPath, compression, item.url);
      }
      const urlTree = new DirectorySource(dir, { forceRootOwnership: true, description: 'download' });
      const st = (await urlTree.lstat(`/${file.name}`))!;
      return place(job, new TreeCopier(urlTree, copierOptions(job)), `/${file.name}`, file.name, st, false);
    }
  }
}

function copierOptions(job: Job) {
  return { destRoot: job.env.destRoot, owner: job.owner, mode: job.mode, exclude: job.exclude, summary: job.result };
}

async function scratchDir(job: Job): Promise<string> {
  job.scratch ??= await mkdtemp(path.join(job.env.tmpDir ?? os.tmpdir(), 'tsbuild-copy-'));
  return job.scratch;
}

/**
 * Decide where one resolved source lands and copy it there.
 * @param copyDirContents true for context/stage paths (a directory's contents
 *        are copied), false for heredocs and downloads (a named file).
 */
async function place(job: Job, copier: TreeCopier, srcInRoot: string, srcName: string, st: Stats, copyDirContents: boolean): Promise<void> {
  const { destRoot } = job.env;
  const dirOptions = { mode: CREATED_DIR_MODE, owner: job.owner };
  const made = await mkdirAllInRoot(destRoot, job.dest.isDir ? job.dest.path : path.posix.dirname(job.dest.path), dirOptions);

  const dst = await resolveInRoot(destRoot, job.dest.path);
  const dstSt = dst.exists ? lstatSyncOrNull(dst.host) : null;
  let destInRoot = dst.inRoot;
  if ((!copyDirContents && st.isDirectory() && dstSt) || (!st.isDirectory() && dstSt?.isDirectory())) {
    destInRoot = path.posix.join(destInRoot, srcName);
  }
  const target = copyDirContents && st.isDirectory() && !dstSt ? destInRoot : path.posix.dirname(destInRoot);
  const targetDir = await mkdirAllInRoot(destRoot, target, dirOptions);
  const dstHost = target === destInRoot ? targetDir.host : path.join(targetDir.host, path.posix.basename(destInRoot));
  // A directory made just now holds nothing yet: its children need no lstat.
  const madeNow = target === destInRoot ? targetDir.created : job.dest.isDir && made.created && dstHost === made.host;
  await copier.copy(srcInRoot, dstHost, { freshDest: madeNow && st.isDirectory() });
}

/** ADD of a local archive: extract into dest, which is always a directory. */
async function extractInto(job: Job, archive: string, compression: Compression, name: string): Promise<void> {
  const dir = await mkdirAllInRoot(job.env.destRoot, job.dest.path, { mode: CREATED_DIR_MODE, owner: job.owner });
  await extractTar(openDecompressed(archive, compression), dir.host, { owner: job.owner, summary: job.result, archiveName: name });
  job.result.archivesExtracted++;
}
