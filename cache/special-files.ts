/**
 * Device nodes and FIFOs, which Node cannot create (no mknod API): the fsop
 * helper makes them by mknodat(2), all of a layer's nodes pipelined to one
 * process. This also covers overlayfs whiteouts, which are 0/0 character
 * devices.
 */
import { lutimesSync } from 'node:fs';
import path from 'node:path';
import { hostFsop } from '../runner-native/fsop.js';
import { inUserNamespace } from '../runner-native/user-namespace.js';
import { CacheError } from './errors.js';

export interface SpecialFile {
  type: 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  devmajor: number;
  devminor: number;
}

/** -1 as a uid/gid: leave the owner as created. */
const KEEP_OWNER = 0xffffffff;

/**
 * Creates the nodes at paths relative to root (resolved inside root). The
 * caller guarantees the paths are free.
 */
export async function createSpecialFiles(root: string, files: Iterable<[string, SpecialFile]>, sameOwner: boolean): Promise<void> {
  const fsop = hostFsop();
  // A user namespace may make whiteouts (0/0) and FIFOs but no device: like
  // Docker's and containers/storage's untar there, rootless unpacking skips
  // devices. The layer blobs keep them; only this tree lacks them.
  const userns = inUserNamespace();
  const wanted = [...files].filter(([, f]) => !(userns && f.type !== 'fifo' && (f.devmajor !== 0 || f.devminor !== 0)));
  const made = wanted.map(async ([rel, f]) => {
    try {
      await fsop.mknod(root, rel, {
        kind: f.type, mode: f.mode, major: f.devmajor, minor: f.devminor,
        uid: sameOwner ? f.uid : KEEP_OWNER, gid: sameOwner ? f.gid : KEEP_OWNER,
      });
    } catch (err) {
      throw new CacheError('SPECIAL_FILE_FAILED', `cannot create ${f.type} node ${rel} in ${root}: ${(err as Error).message}`);
    }
    // Times by path: the parents were checked to be real directories.
    lutimesSync(path.join(root, rel), f.mtime, f.mtime);
  });
  const results = await Promise.allSettled(made);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
