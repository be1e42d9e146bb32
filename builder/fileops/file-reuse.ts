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
import { closeSync, constants, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { link, open } from 'node:fs/promises';
import type { Owner } from './chown.js';

export interface FileReuse {
  /** The previous snapshot of this step (an immutable, published snapshot dir). */
  readonly previousDir: string;
  /** The mounted overlay the copier writes through (the copier's destRoot). */
  readonly mergedDir: string;
  /** That overlay's upper dir, where a linked file goes. */
  readonly upperDir: string;
}

const CHUNK = 64 * 1024;

/**
 * Links the previous snapshot's file at dstHost's place into the upper dir
 * when it is what copying `srcHost` (stat `st`) with `owner` and permission
 * bits `perm` would make; false (nothing done) otherwise. dstHost must be in
 * a directory the copier created in this step (a pure upper directory the
 * overlay has not looked the name up in).
 */
export async function linkUnchangedFile(reuse: FileReuse, srcHost: string, st: Stats, dstHost: string, owner: Owner, perm: number): Promise<boolean> {
  if (!dstHost.startsWith(reuse.mergedDir + '/')) return false;
  const rel = dstHost.slice(reuse.mergedDir.length);
  const previous = reuse.previousDir + rel;
  // Synchronous, as the copier's other per-file metadata calls (fs-write.ts setTimes).
  const prev = lstatSync(previous, { throwIfNoEntry: false });
  if (!prev?.isFile() || prev.size !== st.size || (prev.mode & 0o7777) !== perm) return false;
  if (prev.uid !== owner.uid || prev.gid !== owner.gid) return false;
  // The copy sets the mtime from st.mtime (a millisecond Date).
  if (Math.round(prev.mtimeMs) !== st.mtime.getTime()) return false;
  if (!(await sameBytes(srcHost, previous, st.size))) return false;
  try {
    await link(previous, reuse.upperDir + rel);
    return true;
  } catch {
    return false; // EMLINK, EXDEV (another filesystem), ...: copy instead
  }
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
    for (let n; off < buf.length && (n = readSync(fd, buf, off, buf.length - off, off)) > 0;) off += n;
    return off;
  } finally {
    closeSync(fd);
  }
}

async function sameBytes(a: string, b: string, size: number): Promise<boolean> {
  if (size <= SYNC_LIMIT) {
    // One byte more than expected tells a file that grew.
    const na = readSmall(a, smallA.subarray(0, size + 1));
    const nb = readSmall(b, smallB.subarray(0, size + 1));
    return na === size && nb === size && smallA.subarray(0, size).equals(smallB.subarray(0, size));
  }
  return sameBytesStreamed(a, b, size);
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
