// What the lower layers of a view show at a path, as overlayfs' lookup
// sees it, read straight from the snapshot dirs (no mount): the topmost
// layer that has the path decides (a whiteout hides it), and the lookup
// stops at a layer where a parent of the path is not a directory or is
// opaque. overlayfs marks a directory opaque only when it is made where the
// view showed something (over the whiteout of this step's upper dir).
//
// The lookups are synchronous: each is a few µs of kernel work on cached
// dentries, where a threadpool round trip costs ten times that on the
// step's critical path, and resolving a RUN's USER takes some forty of
// them (every component of /etc/passwd and /etc/group in every layer).
import { readFileSync, readlinkSync, type Stats } from 'node:fs';
import { lstatQuiet } from '../../cache/quiet-stat.js';
import path from 'node:path';
import { readXattr } from '../../cache/xattrs.js';
import { OVERLAY_OPAQUE_XATTR } from '../../cache/whiteout.js';
import { SymlinkLoopError } from '../fileops/errors.js';
import { resolveInRoot, type Found } from '../fileops/resolve.js';

export interface LowerEntry {
  /** Where the entry is on the host: in the layer that shows it. */
  host: string;
  stats: Stats;
}

/** The entry at `rel` (relative, symlinks not followed), or null for none or a whiteout. */
export async function lowerEntry(lowerDirs: string[], rel: string): Promise<LowerEntry | null> {
  for (const lower of lowerDirs) {
    const host = path.join(lower, rel);
    const stats = lstatQuiet(host);
    if (stats) return stats.isCharacterDevice() && stats.rdev === 0 ? null : { host, stats };
    if (await hidesLowerLayers(lower, rel)) return null;
  }
  return null;
}

export async function lowersShow(lowerDirs: string[], rel: string): Promise<boolean> {
  return (await lowerEntry(lowerDirs, rel)) !== null;
}

// A parent of rel that is not a directory here (a file, a whiteout) or is opaque hides the layers beneath.
async function hidesLowerLayers(lower: string, rel: string): Promise<boolean> {
  for (let p = path.posix.dirname(rel); p !== '.' && p !== '/'; p = path.posix.dirname(p)) {
    const st = lstatQuiet(path.join(lower, p));
    if (st && !st.isDirectory()) return true;
    if (st && (await readXattr(lower, p, OVERLAY_OPAQUE_XATTR).catch(() => null))?.toString() === 'y') return true;
  }
  return false;
}

/**
 * The regular file at `file` (a path in the image) as the merged view shows
 * it, symlinks followed inside the image as a chroot would (the in-root
 * resolver's rules, with each component looked up through the layers);
 * null when there is none. What a step reads this way (the image's
 * /etc/passwd) needs no overlay mount; nor does a WORKDIR that is there.
 */
export async function readFileInLowers(lowerDirs: string[], file: string): Promise<Buffer | null> {
  const entry = await resolvedInLowers(lowerDirs, file);
  return entry?.stats.isFile() ? readFileSync(entry.host) : null;
}

/** Whether the merged view has a directory at `dir` (symlinks followed as for readFileInLowers). */
export async function directoryInLowers(lowerDirs: string[], dir: string): Promise<boolean> {
  return (await resolvedInLowers(lowerDirs, dir))?.stats.isDirectory() ?? false;
}

async function resolvedInLowers(lowerDirs: string[], p: string): Promise<LowerEntry | null> {
  const lookup = async (inRoot: string): Promise<Found | null> => {
    const entry = await lowerEntry(lowerDirs, inRoot.slice(1));
    return entry && { isLink: entry.stats.isSymbolicLink(), readlink: async () => readlinkSync(entry.host) };
  };
  let resolved;
  try {
    resolved = await resolveInRoot('/', p, { lookup });
  } catch (err) {
    if (err instanceof SymlinkLoopError) return null;
    throw err;
  }
  return resolved.exists ? lowerEntry(lowerDirs, resolved.inRoot.slice(1)) : null;
}
