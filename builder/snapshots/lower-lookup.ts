// Whether the lower layers of a view have something at a path (a file or a
// whiteout), as overlayfs' lookup sees it: it stops at a layer where a
// parent of the path is not a directory or is opaque. overlayfs marks a
// directory made there opaque (created over a whiteout); the non-overlay
// snapshotters decide the same way.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { readXattr } from '../../cache/xattrs.js';
import { OVERLAY_OPAQUE_XATTR } from '../../cache/whiteout.js';

export async function lowersHave(lowerDirs: string[], rel: string): Promise<boolean> {
  for (const lower of lowerDirs) {
    if (await lstat(path.join(lower, rel)).then(() => true, () => false)) return true;
    for (let p = path.posix.dirname(rel); p !== '.'; p = path.posix.dirname(p)) {
      const st = await lstat(path.join(lower, p)).catch(() => undefined);
      if (st && !st.isDirectory()) return false;
      if (st && (await readXattr(lower, p, OVERLAY_OPAQUE_XATTR).catch(() => null))?.toString() === 'y') return false;
    }
  }
  return false;
}
