// Small filesystem helpers shared by the image store and the exporters.

import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { stampOpenFile } from '../../cache/version-stamp.js';
import { fsyncAsync } from '../../cache/write-atomic.js';
import path from 'node:path';
import { randomBytes } from '../../runner-native/native-crypto.js';

/** A temp name next to `target`, so the final rename stays on one filesystem (and is atomic). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

// Both are synchronous: the files are small (an index, a memo), and each
// threadpool round trip of an async write (open, write, fsync, close,
// rename) waited behind the build's background work at the end of a build.

/**
 * Write temp, fsync, rename: a crash never leaves a half-written file under
 * its final name. With `before`, the rename waits for it (and a failure of
 * it leaves the target as it was), and the file's own fsync runs meanwhile
 * on the threadpool, as an index's does beside the fsyncs of the blobs it
 * will name (a synchronous one would hold up this thread, which still has
 * to issue theirs). With `mtimeMs`, the file carries that time (a version
 * stamp: cache/version-stamp.ts). Resolves with the written file's stat,
 * which is the target's as long as nobody replaced it since.
 */
export async function writeFileAtomic(target: string, data: Buffer | string, before?: Promise<unknown>, mtimeMs?: number): Promise<Stats> {
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'w', 0o644);
  let written: Stats;
  try {
    writeFileSync(fd, data);
    if (mtimeMs !== undefined) stampOpenFile(fd, mtimeMs);
    if (before) await fsyncAsync(fd);
    else fsyncSync(fd);
    written = fstatSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    await before;
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return written;
}

export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
