// Runs the native context check (native/stat-check.c, built at install
// into runner-native/build/) on a snapshot file, in another process: it
// lstats every entry of the context while this one loads its code and
// connects to the server. Undefined when the check is not installed (no C
// compiler, another OS) or fails to run: the caller checks in JavaScript.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
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
 * Date.now() from before the check started: the answer comes once the
 * table is read.
 */
export function nativeStatCheck(snapshotFd: number, onTable?: (table: Float64Array, takenAt: number) => void): Promise<boolean | undefined> {
  const bin = path.join(packageRoot(), 'runner-native', 'build', STAT_CHECK_NAME);
  if (!existsSync(bin)) return Promise.resolve(undefined);
  // Loaded here, not with this module: a small context is checked in JavaScript (context-check.ts), and then this process never loads child_process (~2 ms).
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const takenAt = Date.now();
  return new Promise((resolve) => {
    const child = spawn(bin, onTable ? ['--table'] : [], { stdio: [snapshotFd, onTable ? 'pipe' : 'ignore', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', () => resolve(undefined));
    // 'close' comes after stdout ended: the table is whole by then.
    child.on(onTable ? 'close' : 'exit', (code) => {
      if (code === 1 && onTable && chunks.length > 0) {
        const bytes = Buffer.concat(chunks);
        // A copy at offset 0: a Float64Array needs 8-aligned bytes.
        if (bytes.length % (TABLE_NUMS * 8) === 0) onTable(new Float64Array(new Uint8Array(bytes).buffer), takenAt);
      }
      resolve(code === 0 ? true : code === 1 ? false : undefined);
    });
  });
}
