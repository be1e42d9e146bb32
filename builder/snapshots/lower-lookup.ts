// Whether the lower layers of a view show something at a path, as
// overlayfs' lookup sees it: the topmost layer that has the path decides (a
// whiteout hides it), and the lookup stops at a layer where a parent of the
// path is not a directory or is opaque. overlayfs marks a directory opaque
// only when it is made where the view showed something (over the whiteout
// of this step's upper dir).
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { readXattr } from '../../cache/xattrs.js';
import { OVERLAY_OPAQUE_XATTR } from '../../cache/whiteout.js';

export async function lowersShow(lowerDirs: string[], rel: string): Promise<boolean> {
  for (const lower of lowerDirs) {
    const found = await lstat(path.join(lower, rel)).catch(() => undefined);
    if (found) return !(found.isCharacterDevice() && found.rdev === 0);
    for (let p = path.posix.dirname(rel); p !== '.'; p = path.posix.dirname(p)) {
      const st = await lstat(path.join(lower, p)).catch(() => undefined);
      if (st && !st.isDirectory()) return false;
      if (st && (await readXattr(lower, p, OVERLAY_OPAQUE_XATTR).catch(() => null))?.toString() === 'y') return false;
    }
  }
  return false;
}
