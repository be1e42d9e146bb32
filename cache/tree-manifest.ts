import { createHash } from '../runner-native/native-crypto.js';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { sortByUtf8, splitDev, walkTree } from './layer-walk.js';
import { readXattrTree } from './xattrs.js';

/** One file system entry as a layer sees it (no atime/ctime, no inode numbers). */
export interface ManifestItem {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds. */
  mtime: number;
  size?: number;
  sha256?: string;
  linkTarget?: string;
  dev?: string;
  /** For hard-linked entries: the first path (byte order) sharing the inode. */
  sameInodeAs?: string;
  /** name → hex value */
  xattrs?: Record<string, string>;
}

/**
 * Describes a directory tree in a stable, comparable form: what a layer
 * round trip must preserve. Used to compare snapshots (and by tests).
 */
export async function describeTree(root: string, opts: { mtimes?: boolean } = {}): Promise<ManifestItem[]> {
  const abs = path.resolve(root);
  const [tree, xattrs] = await Promise.all([walkTree(abs), readXattrTree(abs)]);
  sortByUtf8(tree, (e) => e.rel);
  const inodes = new Map<string, string>();
  const items: ManifestItem[] = [];
  for (const { rel, st, inode } of tree) {
    const item: ManifestItem = {
      path: rel, type: 'file', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
      mtime: opts.mtimes === false ? 0 : Math.floor(st.mtimeMs / 1000),
    };
    if (st.isDirectory()) item.type = 'dir';
    else if (st.isSymbolicLink()) {
      item.type = 'symlink';
      item.linkTarget = await fsp.readlink(path.join(abs, rel));
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      item.type = st.isCharacterDevice() ? 'char' : 'block';
      const { major, minor } = splitDev(st.rdev);
      item.dev = `${major},${minor}`;
    } else if (st.isFIFO()) item.type = 'fifo';
    else if (st.isSocket()) item.type = 'socket';
    else {
      item.size = st.size;
      item.sha256 = await hashFile(path.join(abs, rel));
    }
    // A symlink's own mode means nothing on Linux and differs between tools.
    if (item.type === 'symlink') item.mode = 0o777;
    if (inode) {
      const first = inodes.get(inode);
      if (first === undefined) inodes.set(inode, rel);
      else item.sameInodeAs = first;
    }
    const attrs = xattrs.get(rel);
    if (attrs) item.xattrs = Object.fromEntries([...attrs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.toString('hex')]));
    items.push(item);
  }
  return items;
}

async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}
