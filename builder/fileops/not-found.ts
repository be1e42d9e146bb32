// A COPY/ADD source that does not exist: say why when we can. A file the
// .dockerignore rules hide is named as such (the usual surprise), else the
// closest visible name in the same directory is suggested.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { suggestName } from '../../frontend/graph/suggest.js';
import { SourceNotFoundError } from './errors.js';
import type { SourceTree } from './source-tree.js';

interface IgnoreAware {
  isIgnored(relPath: string): boolean;
}

function ignoreRulesOf(tree: SourceTree): IgnoreAware | undefined {
  const t = tree as SourceTree & Partial<IgnoreAware>;
  return typeof t.isIgnored === 'function' ? (t as IgnoreAware) : undefined;
}

/** The error for `spec` (normalised to the in-root `inRoot`), with a hint. */
export async function sourceNotFound(spec: string, tree: SourceTree, inRoot: string, resolvedTo?: string): Promise<SourceNotFoundError> {
  return new SourceNotFoundError(spec, tree.description, resolvedTo, await hintFor(tree, inRoot));
}

async function hintFor(tree: SourceTree, inRoot: string): Promise<string | undefined> {
  const rel = inRoot.replace(/^\/+/, '');
  const rules = ignoreRulesOf(tree);
  if (rules && rel !== '') {
    // Exists on disk but hidden: which of its path prefixes the rules match.
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (rules.isIgnored(prefix) && (await lstat(path.join(tree.root, rel)).then(() => true, () => false))) {
        return `it is excluded by .dockerignore${prefix === rel ? '' : ` (which excludes "${prefix}")`}`;
      }
    }
  }
  const dir = path.posix.dirname(inRoot);
  const names = await tree.readdir(dir).catch(() => [] as string[]);
  const close = suggestName(path.posix.basename(inRoot), names, true);
  return close === undefined ? undefined : `did you mean "${path.posix.join(dir, close).replace(/^\/+/, '')}"?`;
}
