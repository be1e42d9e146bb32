// Cloning a git repository with the system `git`, for git build contexts
// and `ADD <git url>`: shallow, at a branch, tag or commit, submodules
// included; `.git` removed unless asked to keep it (ADD --keep-git-dir).
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { InvalidSourceError } from './errors.js';

const run = promisify(execFile);

export class GitError extends Error {
  readonly userError = true;
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** `repo#ref:subdir` → its parts (ref and subdir may be empty). */
export function parseGitUrl(arg: string): { remote: string; ref: string; subdir: string } {
  const hash = arg.indexOf('#');
  const remote = hash < 0 ? arg : arg.slice(0, hash);
  const fragment = hash < 0 ? '' : arg.slice(hash + 1);
  const colon = fragment.indexOf(':');
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  const subdir = colon < 0 ? '' : fragment.slice(colon + 1);
  if (subdir.split('/').includes('..')) throw new InvalidSourceError('BAD_GIT_URL', `invalid git reference ${JSON.stringify(arg)}: the subdirectory may not contain ".."`);
  return { remote: remote.startsWith('github.com/') ? `https://${remote}` : remote, ref, subdir };
}

async function git(args: string[], cwd?: string): Promise<string> {
  try {
    // No prompts: a build must fail, not wait for a password.
    const { stdout } = await run('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new GitError('GIT_MISSING', 'reading a git repository needs git installed (apt-get install git)');
    const detail = (e.stderr ?? e.message).trim().split('\n').filter(Boolean).at(-1) ?? e.message;
    throw new GitError('GIT_FAILED', `git ${args[0]} failed: ${detail}`);
  }
}

/** The commit `ref` names on `remote` now (a full commit id is its own answer). */
export async function resolveGitCommit(remote: string, ref: string): Promise<string> {
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  const out = await git(['ls-remote', remote, ref || 'HEAD']);
  const lines = out.trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
  // An annotated tag lists its commit as `<tag>^{}`.
  const peeled = lines.find(([, name]) => name.endsWith('^{}'));
  const hit = peeled ?? lines[0];
  if (!hit) throw new GitError('GIT_REF_NOT_FOUND', `git ref ${JSON.stringify(ref || 'HEAD')} not found in ${remote}`);
  return hit[0];
}

export async function cloneGit(remote: string, ref: string, dest: string, keepGitDir = false): Promise<void> {
  await git(['init', '-q', dest]);
  await git(['remote', 'add', 'origin', remote], dest);
  await git(['fetch', '-q', '--depth=1', '--tags', 'origin', ref || 'HEAD'], dest);
  await git(['checkout', '-q', 'FETCH_HEAD'], dest);
  await git(['submodule', 'update', '-q', '--init', '--recursive', '--depth=1'], dest);
  if (!keepGitDir) await rm(path.join(dest, '.git'), { recursive: true, force: true });
}
