import { fsync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a file under a temporary name and renames it into place: readers see
 * the old or the new text, never half of it. Not fsynced: for records that
 * are only an optimisation (checksum caches, build history), which a crash
 * may lose but never corrupt.
 */
export async function writeTextAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempNameOf(file);
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * writeTextAtomically() by synchronous calls, for a record written on a
 * build's way (a step's history, the checksum cache's selections, a
 * context's snapshot; text or its bytes): three syscalls, where the
 * threadpool's round trips queue behind the build's layer writes.
 */
export function writeTextAtomicallySync(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempNameOf(file);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

// Beside the file, unique to this process and this write: the pid, and
// Math.random() (node:crypto's generator starts in ~0.3 ms, for a name).
function tempNameOf(file: string): string {
  return `${file}.${process.pid}.${Math.random().toString(16).slice(2, 10)}.tmp`;
}

/** fsync(2) of an open descriptor on the threadpool, for a writer whose other calls are synchronous. */
export const fsyncAsync = promisify(fsync);
