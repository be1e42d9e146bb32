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

/**
 * true: the context is as the snapshot remembers it; false: something
 * changed; undefined: no answer. The snapshot is the check's stdin, the
 * open file itself (at offset 0): no pipe to create and fill, and the
 * child reads while this process decodes the same file.
 */
export function nativeStatCheck(snapshotFd: number): Promise<boolean | undefined> {
  const bin = path.join(packageRoot(), 'runner-native', 'build', STAT_CHECK_NAME);
  if (!existsSync(bin)) return Promise.resolve(undefined);
  // Loaded here, not with this module: a small context is checked in JavaScript (context-check.ts), and then this process never loads child_process (~2 ms).
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn(bin, [], { stdio: [snapshotFd, 'ignore', 'ignore'] });
    child.on('error', () => resolve(undefined));
    child.on('exit', (code) => resolve(code === 0 ? true : code === 1 ? false : undefined));
  });
}
