/**
 * Turning COPY/ADD source arguments into a plan: which are context/stage
 * paths (wildcards expanded), --parents selections, heredocs or URLs, with
 * the user errors BuildKit gives for sources that cannot be used.
 */
import path from 'node:path';
import { InvalidSourceError, PathEscapesContextError } from './errors.js';
import { sourceNotFound } from './not-found.js';
import { isHttpUrl } from './fetch-url.js';
import { cleanInRoot } from './resolve.js';
import type { SourceTree } from './source-tree.js';
import { containsWildcards, resolveWildcards } from './wildcard.js';

export interface HeredocSource {
  /** The heredoc word, e.g. `EOF` or `script.sh`: the copied file's name. */
  readonly name: string;
  readonly content: string | Uint8Array;
  /** Defaults to 0644, like BuildKit's inline-document file. */
  readonly mode?: number;
}

export type CopySource = string | { readonly heredoc: HeredocSource };

export type PlannedItem =
  /** A path in the source tree (one wildcard match, or a literal path that exists). */
  | { readonly kind: 'path'; readonly group: number; readonly spec: string; readonly path: string }
  /** --parents: copy `base` keeping the structure of what `pattern` selects below it. */
  | { readonly kind: 'parents'; readonly group: number; readonly spec: string; readonly base: string; readonly pattern: string }
  | { readonly kind: 'heredoc'; readonly group: number; readonly heredoc: HeredocSource }
  | { readonly kind: 'url'; readonly group: number; readonly url: string }
  | { readonly kind: 'git'; readonly group: number; readonly url: string };

/** git@host:repo, git://, ssh://, or an http(s) URL to a `.git` repository. */
export function isGitSource(src: string): boolean {
  if (/^(git@|git:\/\/|ssh:\/\/)/.test(src)) return true;
  if (!isHttpUrl(src)) return false;
  try {
    return new URL(src.split('#')[0]!).pathname.endsWith('.git');
  } catch {
    return false;
  }
}

/**
 * Normalise a source path to an in-root path. In the build context `..`
 * above the root is refused; in a stage rootfs it is clamped like `cd /..`.
 */
export function normalizeSourcePath(spec: string, tree: SourceTree): string {
  if (tree.refuseEscapingPaths) {
    let depth = 0;
    for (const comp of spec.split('/')) {
      if (comp === '..') depth--;
      else if (comp !== '' && comp !== '.') depth++;
      if (depth < 0) throw new PathEscapesContextError(spec);
    }
  }
  return cleanInRoot(spec);
}

export interface PlanOptions {
  readonly instruction: 'COPY' | 'ADD';
  readonly parents: boolean;
}

export async function planSources(sources: readonly CopySource[], tree: SourceTree, options: PlanOptions): Promise<PlannedItem[]> {
  const items: PlannedItem[] = [];
  for (const [group, source] of sources.entries()) {
    if (typeof source !== 'string') {
      items.push({ kind: 'heredoc', group, heredoc: source.heredoc });
      continue;
    }
    if (isGitSource(source)) {
      if (options.instruction === 'COPY') throw new InvalidSourceError('GIT_SOURCE_UNSUPPORTED', `source can't be a git ref for COPY: ${source}`);
      items.push({ kind: 'git', group, url: source });
      continue;
    }
    if (isHttpUrl(source)) {
      if (options.instruction === 'COPY') throw new InvalidSourceError('URL_SOURCE_FOR_COPY', `source can't be a URL for COPY: ${source}`);
      items.push({ kind: 'url', group, url: source });
      continue;
    }
    if (options.parents) {
      items.push(await planParents(source, group, tree));
      continue;
    }
    const normalized = normalizeSourcePath(source, tree);
    if (containsWildcards(normalized)) {
      // BuildKit allows a wildcard to match nothing (AllowEmptyWildcard).
      for (const match of await resolveWildcards(tree, normalized)) items.push({ kind: 'path', group, spec: source, path: match });
      continue;
    }
    const resolved = await tree.resolve(normalized, true);
    if (!resolved.exists || !(await tree.lstat(resolved.inRoot))) {
      throw await sourceNotFound(source, tree, resolved.linksFollowed > 0 ? resolved.inRoot : normalized, resolved.linksFollowed > 0 ? resolved.inRoot : undefined);
    }
    items.push({ kind: 'path', group, spec: source, path: normalized });
  }
  return items;
}

async function planParents(source: string, group: number, tree: SourceTree): Promise<PlannedItem> {
  // An rsync-style "/./" pivot says where the kept structure starts.
  const pivot = source.indexOf('/./');
  const baseSpec = pivot < 0 ? '/' : source.slice(0, pivot);
  const patternSpec = pivot < 0 ? source : source.slice(pivot + 3);
  const base = normalizeSourcePath(baseSpec, tree);
  const pattern = normalizeSourcePath(patternSpec, tree).slice(1);
  if (!containsWildcards(base) && !containsWildcards(pattern)) {
    const required = await tree.resolve(path.posix.join(base, pattern), false);
    if (!required.exists || !(await tree.lstat(required.inRoot))) throw await sourceNotFound(source, tree, path.posix.join(base, pattern));
  }
  return { kind: 'parents', group, spec: source, base, pattern };
}
