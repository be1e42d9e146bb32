// The copier's fast path for a re-run COPY (copy-tree.ts): in the loop over
// a directory it has just created, each unchanged source file is linked
// from the previous snapshot there and then, with no promise, slot or task
// of its own (what the general per-entry path costs, times 5,000, was most
// of such a copy). A file this cannot decide goes the general path.
import type { Stats } from 'node:fs';
import type { Owner } from './chown.js';
import { type FileReuse, linkUnchangedFileSync } from './file-reuse.js';
import type { SourceTree } from './source-tree.js';

/** What the copier counts of a linked file. */
export interface LinkCounts {
  files: number;
  bytes: number;
}

/**
 * Links the source file `srcInRoot`, which the directory's readdir just
 * listed, from the previous snapshot to dstHost when it is unchanged: true
 * (and counted). Otherwise its lstat, for the general path; undefined when
 * it has none (that path takes it, and reports what failed).
 */
export function linkListedFile(reuse: FileReuse, source: SourceTree, srcInRoot: string, dstHost: string, ownerFor: (st: Owner) => Owner, counts: LinkCounts): true | Stats | undefined {
  if (linkWalked(reuse, source, srcInRoot, dstHost, ownerFor, counts)) return true;
  try {
    const st = source.lstatListedSync?.(srcInRoot);
    if (!st) return undefined;
    const perm = st.mode & 0o7777;
    if (!st.isFile() || st.nlink !== 1 || (perm & 0o6000) !== 0) return st;
    if (linkUnchangedFileSync(reuse, source.hostPath(srcInRoot), st, dstHost, ownerFor(st), perm) !== true) return st;
    counts.files++;
    counts.bytes += st.size;
    return true;
  } catch {
    return undefined;
  }
}

// By the stat this build's checksum walk took of the file (the one its
// digest, and so the step's cache key, came from): no lstat at all. False
// when the walk did not see it as a single-link file that links.
function linkWalked(reuse: FileReuse, source: SourceTree, srcInRoot: string, dstHost: string, ownerFor: (st: Owner) => Owner, counts: LinkCounts): boolean {
  const walked = source.walkedFile?.(srcInRoot);
  if (!walked || walked.nlink !== 1 || (walked.mode & 0o6000) !== 0) return false;
  try {
    if (linkUnchangedFileSync(reuse, source.hostPath(srcInRoot), walked, dstHost, ownerFor(walked), walked.mode) !== true) return false;
  } catch {
    return false;
  }
  counts.files++;
  counts.bytes += walked.size;
  return true;
}
