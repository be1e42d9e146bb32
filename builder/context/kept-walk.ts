// When the local memo's second solve may take the build's own walk of the
// whole context, kept in this process (recent-selections.ts says why that
// stays exact): a selection of the whole context, the same ignore rules,
// and the entries it lstats again still as that walk saw them.
import { lstatSync } from 'node:fs';
import type { PlannedItem } from '../fileops/sources.js';
import type { PatternMatcher } from '../patterns/pattern-matcher.js';
import { entryType, type BuildContext, type EntryType } from './context.js';
import type { FileStatKey } from '../../cache/checksum-cache.js';

/** COPY . with nothing excluded, planned before the walk: the root only (a source naming a symlink to it is not). */
export function wholeContextSelection(items: readonly PlannedItem[], exclude: PatternMatcher | undefined): boolean {
  return items.length === 1 && items[0]!.kind === 'path' && items[0]!.path === '/' && exclude === undefined;
}

/** The ignore rules a walk of the context went through: a kept walk is reused only under the same. */
export function ignoreVariant(ctx: BuildContext): string {
  return JSON.stringify(ctx.ignore.patterns.map((p) => [p.text, p.exclusion]));
}

/** An entry of a kept walk, as that walk saw it. */
export interface KeptEntry extends FileStatKey {
  readonly host: string;
  readonly type: EntryType;
  /** Permission bits. */
  readonly mode: number;
  readonly nlink: number;
}

/** The entry lstat'ed again: still of its type, mode, link count and stat identity. */
export function stillAsWalked(e: KeptEntry): boolean {
  const st = lstatSync(e.host, { throwIfNoEntry: false });
  return st !== undefined && entryType(st) === e.type && (st.mode & 0o7777) === e.mode && st.nlink === e.nlink &&
    st.dev === e.dev && st.ino === e.ino && st.size === e.size && st.mtimeMs === e.mtimeMs && st.ctimeMs === e.ctimeMs;
}
