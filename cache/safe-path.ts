import { lstatSync } from 'node:fs';
import * as path from 'node:path';
import { corruptTar, unsafeEntry } from './errors.js';

/**
 * Turns a tar entry name into a clean path relative to the layer root
 * ('' is the root itself). Like Docker, a leading '/' is stripped and the
 * path is cleaned lexically; a '..' that would climb above the root makes
 * the entry unsafe.
 */
export function normalizeEntryName(name: string, entryName = name, what = 'path'): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw unsafeEntry(entryName, `${what} ${JSON.stringify(name)} escapes the layer root with '..'`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function joinRel(parent: string, name: string): string {
  return parent === '' ? name : parent + '/' + name;
}

/** Creates a missing intermediate directory; may copy metadata from elsewhere. */
export type ImplicitDirMaker = (abs: string, rel: string) => Promise<void>;

/**
 * Path resolution inside a root that never follows a symlink: each
 * component of a parent path is checked with lstat and must be a real
 * directory. Components known to be real directories are cached; callers
 * must call forget() whenever they remove or replace something, so the
 * cache never vouches for a path that has since become a symlink.
 *
 * This guards against hostile archives, not against another process
 * racing us inside the same directory (nothing else writes into a snapshot
 * while it is being unpacked).
 */
export class RootedPaths {
  private readonly knownDirs = new Set<string>(['']);

  constructor(readonly root: string) {}

  abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }

  isKnownDir(rel: string): boolean {
    return this.knownDirs.has(rel);
  }

  markDir(rel: string): void {
    this.knownDirs.add(rel);
  }

  /** Drops rel and everything below it from the cache. */
  forget(rel: string, wasDir: boolean): void {
    this.knownDirs.delete(rel);
    if (!wasDir) return;
    const prefix = rel + '/';
    for (const d of this.knownDirs) if (d.startsWith(prefix)) this.knownDirs.delete(d);
  }

  /**
   * Makes sure every directory above `rel` exists as a real directory,
   * creating missing ones with `makeDir`. `entryName` is for messages.
   */
  async ensureParents(rel: string, entryName: string, makeDir: ImplicitDirMaker): Promise<void> {
    await this.walkParents(rel, entryName, makeDir);
  }

  /**
   * Like ensureParents but creates nothing: false if some parent is
   * missing. Still refuses a parent chain that goes through a symlink.
   */
  async parentsExist(rel: string, entryName: string): Promise<boolean> {
    return this.walkParents(rel, entryName, undefined);
  }

  private async walkParents(rel: string, entryName: string, makeDir: ImplicitDirMaker | undefined): Promise<boolean> {
    const parent = parentOf(rel);
    if (this.knownDirs.has(parent)) return true;
    const parts = parent.split('/');
    let cur = '';
    for (const part of parts) {
      cur = joinRel(cur, part);
      if (this.knownDirs.has(cur)) continue;
      const abs = this.abs(cur);
      let st;
      try {
        st = lstatSync(abs); // sync: see tar-entry-applier.ts
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        if (!makeDir) return false;
        await makeDir(abs, cur);
        this.knownDirs.add(cur);
        continue;
      }
      if (st.isSymbolicLink()) throw unsafeEntry(entryName, `its parent ${cur} is a symlink`);
      if (!st.isDirectory()) throw corruptTar(`entry ${JSON.stringify(entryName)}: parent ${cur} is not a directory`);
      this.knownDirs.add(cur);
    }
    return true;
  }
}
