/**
 * Extended attributes by syscall through the fsop helper (Node has no
 * xattr API): a tree is listed by one request, a layer's attributes are
 * set by requests pipelined to the same process, never one per file.
 */
import { hostFsop, runningFsop } from '../runner-native/fsop.js';
import { CacheError } from './errors.js';
import { OVERLAY_XATTR_PREFIX } from './whiteout.js';

export type Xattrs = Map<string, Buffer>;

/** xattrs that must never travel in a layer, whichever direction. */
export function isPortableXattr(name: string): boolean {
  // overlayfs bookkeeping belongs to the mount that made it; a layer that
  // carried it could forge opaque dirs or redirects in our overlay mounts.
  if (name.startsWith('trusted.overlay.') || name.startsWith(OVERLAY_XATTR_PREFIX)) return false;
  // fuse-overlayfs' own marks (its upper dirs are rewritten to overlayfs' format).
  if (name.startsWith('user.fuseoverlayfs.')) return false;
  // The host's SELinux label says nothing about the image.
  if (name === 'security.selinux') return false;
  return true;
}

/**
 * All xattrs under `root`, keyed by path relative to root ('' = root),
 * symlinks not followed. Files without xattrs are absent from the map.
 * `unmounted`: nothing under root is a mount point (an overlay upper dir),
 * so any running helper can read it, whatever its mount namespace.
 */
export async function readXattrTree(root: string, opts: { unmounted?: boolean } = {}): Promise<Map<string, Xattrs>> {
  try {
    return await (opts.unmounted ? runningFsop() : hostFsop()).xattrTree(root);
  } catch (err) {
    throw new CacheError('XATTR_FAILED', `cannot read extended attributes under ${root}: ${(err as Error).message}`);
  }
}

/**
 * One xattr of a path relative to root (not followed), or null. root must
 * neither be nor hold a mount point (a snapshot, an upper dir): any running
 * helper then sees the same file, and none is started for one read.
 */
export async function readXattr(root: string, rel: string, name: string): Promise<Buffer | null> {
  return runningFsop().getXattr(root, rel, name);
}

/** Sets xattrs on paths relative to root (symlinks themselves, not followed). */
export async function writeXattrs(root: string, items: Iterable<[string, Xattrs]>): Promise<void> {
  const fsop = hostFsop();
  const writes: Promise<void>[] = [];
  for (const [rel, attrs] of items) {
    for (const [name, value] of attrs) {
      writes.push(fsop.setXattr(root, rel, name, value).catch((err: Error) => {
        throw new CacheError('XATTR_FAILED', `cannot set ${name} on ${rel || '.'} in ${root}: ${err.message}`);
      }));
    }
  }
  const results = await Promise.allSettled(writes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
