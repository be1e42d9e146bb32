// Checksums of context selections, remembered for the life of the process
// by the context's content identity: a caller that knows two context
// directories hold the same content (a build server, which materialised
// both from one manifest, named by its digest) gets the checksum of a COPY
// of them computed once, without walking thousands of files again.
import { LruMap } from '../../cache/lru-map.js';
import { checksumSelection, selectionKey, type SelectionOptions } from './checksum.js';
import type { SourceTree } from '../fileops/source-tree.js';

// Entries are small (a key and a digest); the bound only stops unbounded growth.
const memo = new LruMap<string, string>(4096);

/**
 * checksumSelection() of `tree()`, through the memo when `contentId` names
 * the tree's content. `variant` holds whatever else decides what the
 * selection sees (the ignore file in use).
 */
export async function memoizedSelection(contentId: string | undefined, variant: string, tree: () => Promise<SourceTree>, patterns: readonly string[], options: SelectionOptions): Promise<string> {
  if (contentId === undefined) return checksumSelection(await tree(), patterns, options);
  const key = selectionKey(contentId, variant, patterns, options);
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const digest = await checksumSelection(await tree(), patterns, options);
  memo.set(key, digest);
  return digest;
}
