// Runs the native context check (native/stat-check.c, built at install
// into runner-native/build/) on a snapshot file, in another process: it
// lstats every entry of the context while this one loads its code and
// connects to the server. Undefined when the check is not installed (no C
// compiler, another OS) or fails to run: the caller checks in JavaScript.
import { closeSync, existsSync, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../runner-native/package-root.js';

export const STAT_CHECK_NAME = 'tsbuild-stat-check';

/** Numbers per row of the check's --table output (stat-check.c). */
export const TABLE_NUMS = 9;

/**
 * true: the context is as the snapshot remembers it; false: something
 * changed; undefined: no answer. The snapshot is the check's stdin, the
 * open file itself (at offset 0): no pipe to create and fill, and the
 * child reads while this process decodes the same file.
 *
 * With `onTable`, a changed context also gives every row's lstat as the
 * check took it (TABLE_NUMS numbers a row, zeros for a gone entry), with
 * Date.now() from before the check started. The check writes it to an
 * unlinked file, not a pipe: a pipe would load Node's net module (~2-4
 * ms) into the no-op answer, which never reads it.
 */
export function nativeStatCheck(snapshotFd: number, onTable?: (table: Float64Array, takenAt: number) => void): Promise<boolean | undefined> {
  const bin = path.join(packageRoot(), 'runner-native', 'build', STAT_CHECK_NAME);
  if (!existsSync(bin)) return Promise.resolve(undefined);
  // Loaded here, not with this module: a small context is checked in JavaScript (context-check.ts), and then this process never loads child_process (~2 ms).
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const takenAt = Date.now();
  const out = onTable ? unlinkedFile() : undefined;
  return new Promise<boolean | undefined>((resolve) => {
    const child = spawn(bin, onTable ? ['--table'] : [], { stdio: [snapshotFd, out ?? 'ignore', 'ignore'] });
    child.on('error', () => resolve(undefined));
    child.on('exit', (code) => {
      if (code === 1 && onTable && out !== undefined) {
        const table = readTable(out);
        if (table) onTable(table, takenAt);
      }
      resolve(code === 0 ? true : code === 1 ? false : undefined);
    });
  }).finally(() => {
    if (out !== undefined) closeSync(out);
  });
}

// A file only this process can reach: created, opened and unlinked at once.
function unlinkedFile(): number | undefined {
  const file = path.join(os.tmpdir(), `tsbuild-stat-table-${process.pid}-${Math.random().toString(16).slice(2, 10)}`);
  try {
    const fd = openSync(file, 'wx+', 0o600);
    unlinkSync(file);
    return fd;
  } catch {
    return undefined;
  }
}

function readTable(fd: number): Float64Array | undefined {
  try {
    const size = fstatSync(fd).size;
    if (size === 0 || size % (TABLE_NUMS * 8) !== 0) return undefined;
    const table = new Float64Array(size / 8);
    const bytes = new Uint8Array(table.buffer);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, bytes, at, size - at, at);
      if (n <= 0) return undefined;
      at += n;
    }
    return table;
  } catch {
    return undefined;
  }
}
