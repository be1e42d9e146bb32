// Build contexts that are not a local directory, as `docker build` takes
// them: `-` (a tar archive on stdin, or a lone Dockerfile), an http(s) URL
// of a tarball (or of a Dockerfile), and a git repository
// (`https://host/repo.git#ref:subdir`, `git://`, `git@host:repo`, `ssh://`).
// Each becomes a temporary directory the build uses as its context, removed
// afterwards. Git repositories are cloned with the system `git`.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { detectTarArchive, openDecompressed } from '../fileops/archive.js';
import { emptySummary } from '../fileops/copy-tree.js';
import { extractTar } from '../fileops/extract.js';
import { downloadUrl, isHttpUrl } from '../fileops/fetch-url.js';
import { cloneGit, parseGitUrl } from '../fileops/git-clone.js';
import { isGitSource } from '../fileops/sources.js';
import { ContextNotFoundError } from './errors.js';

export interface MaterializedContext {
  dir: string;
  /** Set when the input was a Dockerfile rather than a context (`docker build - < Dockerfile`). */
  dockerfileText?: string;
  cleanup(): Promise<void>;
}

/** A git URL as docker recognises one (urlutil.IsGitURL): `.git` at the end of the path, git@, git://, ssh://, github.com/. */
export function isGitUrl(arg: string): boolean {
  return isGitSource(arg) || arg.startsWith('github.com/');
}

export function isRemoteContext(arg: string): boolean {
  return arg === '-' || isHttpUrl(arg) || isGitUrl(arg);
}

async function tempContext(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-context-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A file holding a tar archive (any compression docker accepts) or a Dockerfile. */
async function fromFile(file: string, name: string): Promise<MaterializedContext> {
  const ctx = await tempContext();
  try {
    const compression = await detectTarArchive(file);
    if (compression === null) {
      // Not an archive: a Dockerfile on its own, with an empty context.
      return { ...ctx, dir: await emptyDir(ctx.dir), dockerfileText: await readFile(file, 'utf8') };
    }
    const dir = await emptyDir(ctx.dir);
    await extractTar(openDecompressed(file, compression), dir, { owner: null, summary: emptySummary(), archiveName: name });
    return { ...ctx, dir };
  } catch (err) {
    await ctx.cleanup();
    throw err;
  }
}

async function emptyDir(parent: string): Promise<string> {
  const dir = path.join(parent, 'context');
  await mkdir(dir);
  return dir;
}

async function readAll(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

async function fromStdin(stdin: NodeJS.ReadableStream): Promise<MaterializedContext> {
  const spool = await tempContext();
  try {
    const file = path.join(spool.dir, 'stdin');
    await writeFile(file, await readAll(stdin));
    const ctx = await fromFile(file, 'stdin');
    return { ...ctx, cleanup: async () => { await ctx.cleanup(); await spool.cleanup(); } };
  } catch (err) {
    await spool.cleanup();
    throw err;
  }
}

async function fromUrl(url: string): Promise<MaterializedContext> {
  const spool = await tempContext();
  try {
    const file = await downloadUrl(url, spool.dir);
    const ctx = await fromFile(file.hostPath, url);
    return { ...ctx, cleanup: async () => { await ctx.cleanup(); await spool.cleanup(); } };
  } catch (err) {
    await spool.cleanup();
    throw err;
  }
}

async function fromGit(arg: string): Promise<MaterializedContext> {
  const { remote, ref, subdir } = parseGitUrl(arg);
  const ctx = await tempContext();
  try {
    const repo = path.join(ctx.dir, 'repo');
    await cloneGit(remote, ref, repo, process.env.BUILDKIT_CONTEXT_KEEP_GIT_DIR === '1');
    const dir = path.join(repo, subdir);
    if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new ContextNotFoundError(`${arg} (no directory ${subdir} in the repository)`);
    return { ...ctx, dir };
  } catch (err) {
    await ctx.cleanup();
    throw err;
  }
}

/** The context named by the build's PATH | URL | - argument, as a directory. */
export async function materializeContext(arg: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<MaterializedContext> {
  if (arg === '-') return fromStdin(stdin);
  if (isGitUrl(arg)) return fromGit(arg);
  if (isHttpUrl(arg)) return fromUrl(arg);
  throw new Error(`tsbuild bug: ${arg} is not a remote context`);
}
