import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export interface TreeEntry {
  /** Path relative to the walked root, '/'-separated, never ''. */
  rel: string;
  st: Stats;
  /** Exact `dev:ino` for entries with more than one link (hard-link detection). */
  inode?: string;
}

/**
 * Every entry under root (root itself excluded), symlinks not followed,
 * in depth-first order. Callers sort as they need. Stat calls of one
 * directory run concurrently: on big trees the walk is bound by syscalls.
 */
export async function walkTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const visit = async (relDir: string): Promise<void> => {
    const names = await fsp.readdir(relDir === '' ? root : path.join(root, relDir));
    const entries = await Promise.all(names.map(async (name): Promise<TreeEntry> => {
      const rel = relDir === '' ? name : relDir + '/' + name;
      const abs = path.join(root, rel);
      const st = await fsp.lstat(abs);
      let inode: string | undefined;
      if (!st.isDirectory() && st.nlink > 1) {
        // Number inodes lose precision above 2^53 (possible on XFS/btrfs);
        // a false match would corrupt the layer, so ask for the exact value.
        const big = await fsp.lstat(abs, { bigint: true });
        inode = `${big.dev}:${big.ino}`;
      }
      return { rel, st, inode };
    }));
    for (const e of entries) {
      out.push(e);
      if (e.st.isDirectory()) await visit(e.rel);
    }
  };
  await visit('');
  return out;
}

/** Compares by the UTF-8 bytes of the keys, the order layer entries use. */
export function byteOrder(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

/** glibc's major()/minor() split of a dev_t. */
export function splitDev(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return {
    major: ((lo >>> 8) & 0xfff) | (hi & 0xfffff000),
    minor: ((lo & 0xff) | ((lo >>> 12) & 0xfff00) | ((hi & 0xfff) << 20)) >>> 0,
  };
}
