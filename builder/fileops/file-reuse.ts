// When a COPY runs again (one file of a large context changed), most files
// it writes are byte for byte and stat for stat those its previous run left
// in that run's snapshot. Instead of copying each through the overlay again,
// the copier hard-links the previous snapshot's file straight into the
// step's upper dir: no data is written, and both snapshots share the inode.
//
// That is safe because snapshots never change once published: they are only
// ever overlay lowerdirs (a later write copies the file up), and a linked
// file is never touched again by this step (its metadata already is what the
// copy would set). The layer made from the upper dir is the same tar as a
// fresh copy's: a file is linked only when its bytes, size, permission bits,
// owner and mtime are what the copy would produce, and a layer records a
// hard link only between two paths inside itself.
import { closeSync, constants, linkSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileStatKey } from '../../cache/checksum-cache.js';
import type { IndexedFile, LayerIndex } from '../../cache/layer-index.js';
import type { Owner } from './chown.js';

export interface FileReuse {
  /** The previous snapshot of this step (an immutable, published snapshot dir). */
  readonly previousDir: string;
  /** The mounted overlay the copier writes through (the copier's destRoot). */
  readonly mergedDir: string;
  /** That overlay's upper dir, where a linked file goes. */
  readonly upperDir: string;
  /** The previous layer's index: the sha256 of each of its files (cache/layer-index.ts). */
  readonly previousIndex?: LayerIndex;
  /**
   * The index also says what previousDir's files are (it was written for
   * this very snapshot dir: LayerIndex.snapshot matched): a file it
   * describes needs no lstat.
   */
  readonly indexDescribesSnapshot?: boolean;
  /** The digest (`sha256:<hex>`) of a source file with that lstat, when already known. */
  readonly sourceDigest?: (srcHost: string, st: SourceStat) => string | undefined;
  /** Filled in: each linked file's path in the upper dir (no leading '/') → `dev:ino` of the snapshot file. */
  readonly linked?: Map<string, string>;
}

/** What the link decision needs of the source file's lstat (a Stats, or a walk's record of one). */
type SourceStat = FileStatKey;

const CHUNK = 64 * 1024;

/**
 * Links the previous snapshot's file at dstHost's place into the upper dir
 * when it is what copying `srcHost` (stat `st`) with `owner` and permission
 * bits `perm` would make; false (nothing done) otherwise. dstHost must be in
 * a directory the copier created in this step (a pure upper directory the
 * overlay has not looked the name up in).
 */
export async function linkUnchangedFile(reuse: FileReuse, srcHost: string, st: Stats, dstHost: string, owner: Owner, perm: number): Promise<boolean> {
  const linked = linkUnchangedFileSync(reuse, srcHost, st, dstHost, owner, perm);
  if (linked !== undefined) return linked;
  const rel = dstHost.slice(reuse.mergedDir.length);
  if (!(await sameBytesStreamed(srcHost, reuse.previousDir + rel, st.size))) return false;
  return linkPrevious(reuse, rel, previousFile(reuse, reuse.previousDir + rel, reuse.previousIndex?.get(rel.slice(1))));
}

/**
 * linkUnchangedFile without a promise, for the copier's loop over a
 * directory: undefined when the answer needs a big file's bytes compared
 * (then the async one decides).
 */
export function linkUnchangedFileSync(reuse: FileReuse, srcHost: string, st: SourceStat, dstHost: string, owner: Owner, perm: number): boolean | undefined {
  // Per file of a re-run: no string made but the paths the calls need.
  const merged = reuse.mergedDir;
  if (dstHost.charCodeAt(merged.length) !== 0x2f || !dstHost.startsWith(merged)) return false;
  const rel = dstHost.slice(merged.length);
  const indexed = reuse.previousIndex?.get(rel.slice(1));
  const previous = reuse.previousDir + rel;
  const prev = previousFile(reuse, previous, indexed);
  if (!prev || prev.size !== st.size || prev.perm !== perm) return false;
  if (prev.uid !== owner.uid || prev.gid !== owner.gid) return false;
  // The copy sets the mtime from st.mtime, a Date of Math.round(st.mtimeMs)
  // (Node's own rounding): compared without making that Date.
  if (Math.round(prev.mtimeMs) !== Math.round(st.mtimeMs)) return false;
  if (!knownSame(reuse, srcHost, st, indexed)) {
    if (st.size > SYNC_LIMIT) return undefined;
    if (!sameSmallBytes(srcHost, previous, st.size)) return false;
  }
  return linkPrevious(reuse, rel, prev);
}

function linkPrevious(reuse: FileReuse, rel: string, prev: PreviousFile | undefined): boolean {
  if (!prev) return false;
  // Two paths of the previous snapshot may be one file (a hard link in the
  // context then, two files now): linked to both, the layer would record
  // the link a copy does not make. The first path gets the link, the others
  // a copy.
  let inodes = linkedInodes.get(reuse);
  if (prev.inode !== undefined && inodes?.has(prev.inode)) return false;
  try {
    // Synchronous too: a link is one short metadata call, cheaper than the
    // threadpool round trip (and its wake-ups) an async call costs.
    linkSync(reuse.previousDir + rel, reuse.upperDir + rel);
    // Number inodes are exact below 2^53; above, the commit just reads the file.
    if (prev.inode !== undefined) {
      reuse.linked?.set(rel.slice(1), prev.inode);
      if (!inodes) linkedInodes.set(reuse, (inodes = new Set()));
      inodes.add(prev.inode);
    }
    return true;
  } catch {
    return false; // EMLINK, EXDEV (another filesystem), ...: copy instead
  }
}

/**
 * The copier is about to remove or replace dstHost (in the merged view):
 * what it linked there is no longer in the upper dir, so `linked` must not
 * name it (the layer writer trusts it: cache/layer-diff.ts).
 */
export function forgetLinked(reuse: FileReuse | undefined, dstHost: string): void {
  if (!reuse?.linked || !dstHost.startsWith(reuse.mergedDir + '/')) return;
  reuse.linked.delete(dstHost.slice(reuse.mergedDir.length + 1));
}

/** The snapshot files (`dev:ino`) each copy linked so far. */
const linkedInodes = new WeakMap<FileReuse, Set<string>>();

interface PreviousFile {
  size: number;
  perm: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** `dev:ino`, when exact. */
  inode?: string;
}

// The previous snapshot's regular file `previous`, or undefined: from its
// entry in the index (`indexed`) when the index describes this snapshot
// dir, else by lstat (synchronous, as the copier's other per-file metadata
// calls, fs-write.ts setTimes).
function previousFile(reuse: FileReuse, previous: string, indexed: IndexedFile | undefined): PreviousFile | undefined {
  if (reuse.indexDescribesSnapshot && indexed?.snapshot) return { size: indexed.size, ...indexed.snapshot };
  const st = lstatSync(previous, { throwIfNoEntry: false });
  if (!st?.isFile()) return undefined;
  const exact = Number.isSafeInteger(st.dev) && Number.isSafeInteger(st.ino);
  return { size: st.size, perm: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, inode: exact ? `${st.dev}:${st.ino}` : undefined };
}

// Whether the source's digest, known from the context checksum, is the one
// the previous layer's index gives for the file at that path: then neither
// file needs reading. (The index describes the layer's bytes, which any
// snapshot of the layer holds.)
function knownSame(reuse: FileReuse, srcHost: string, st: SourceStat, known: IndexedFile | undefined): boolean {
  if (!known || known.size !== st.size) return false;
  const digest = reuse.sourceDigest?.(srcHost, st);
  // `sha256:<hex>` against the index's hex, without making the prefixed string.
  return digest !== undefined && digest.length === 7 + known.sha256.length && digest.startsWith('sha256:') && digest.endsWith(known.sha256);
}

// Small files are compared with synchronous calls: the threadpool round
// trips of six async calls per file cost more than the calls themselves.
const SYNC_LIMIT = 64 * 1024;
const smallA = Buffer.alloc(SYNC_LIMIT + 1);
const smallB = Buffer.alloc(SYNC_LIMIT + 1);

function readSmall(file: string, buf: Buffer): number {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let off = 0;
    // A read that returns less than asked for has reached the end of a
    // regular file: stop there instead of asking once more for the 0.
    for (let n = -1; off < buf.length && n !== 0;) {
      const want = buf.length - off;
      n = readSync(fd, buf, off, want, off);
      off += n;
      if (n < want) break;
    }
    return off;
  } finally {
    closeSync(fd);
  }
}

function sameSmallBytes(a: string, b: string, size: number): boolean {
  // One byte more than expected tells a file that grew.
  const na = readSmall(a, smallA.subarray(0, size + 1));
  const nb = readSmall(b, smallB.subarray(0, size + 1));
  return na === size && nb === size && smallA.subarray(0, size).equals(smallB.subarray(0, size));
}

async function sameBytesStreamed(a: string, b: string, size: number): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, constants.O_RDONLY | constants.O_NOFOLLOW), open(b, constants.O_RDONLY | constants.O_NOFOLLOW)]);
  try {
    const len = Math.min(size, CHUNK);
    const ba = Buffer.allocUnsafe(len + 1);
    const bb = Buffer.allocUnsafe(len + 1);
    for (let off = 0; ; off += len) {
      // One byte more than expected at the end tells a file that grew.
      const [ra, rb] = await Promise.all([fa.read(ba, 0, len + 1, off), fb.read(bb, 0, len + 1, off)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
      if (ra.bytesRead <= len) return off + ra.bytesRead === size;
    }
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}
