/**
 * Device nodes and FIFOs, which Node cannot create (no mknod/mkfifo API).
 * We batch every such node of a layer into one small tar and let GNU tar
 * create them in a single process: one process per layer, not per node.
 * This also covers overlayfs whiteouts, which are 0/0 character devices.
 */
import { spawn } from 'node:child_process';
import { CacheError, oneLine } from './errors.js';
import { END_OF_ARCHIVE, encodeHeader } from './tar-format.js';

export interface SpecialFile {
  type: 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  devmajor: number;
  devminor: number;
}

/**
 * Creates the nodes at paths relative to root. The caller guarantees the
 * paths are free and their parents are real directories inside root (GNU
 * tar would follow a symlinked parent).
 */
export async function createSpecialFiles(root: string, files: Iterable<[string, SpecialFile]>, sameOwner: boolean): Promise<void> {
  const parts: Buffer[] = [];
  for (const [rel, f] of files) parts.push(encodeHeader({ name: rel, ...f }));
  if (parts.length === 0) return;
  parts.push(END_OF_ARCHIVE);
  const args = ['-x', '-f', '-', '-C', root, '--numeric-owner', '--same-permissions', '--no-recursion',
    sameOwner ? '--same-owner' : '--no-same-owner'];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const msg = oneLine(Buffer.concat(err).toString('utf8')).slice(0, 300);
      reject(new CacheError('SPECIAL_FILE_FAILED', `cannot create device/fifo nodes in ${root} (tar exit ${code}): ${msg}`));
    });
    child.stdin!.on('error', () => { /* reported through the exit code */ });
    child.stdin!.end(Buffer.concat(parts));
  });
}
