// Test support: a tiny image made from the host's static busybox, so
// sandbox tests need no registry and no unpacking code.
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { RootLayers } from '../spec.js';

export const HOST_BUSYBOX = '/bin/busybox';

/** Why a busybox rootfs cannot be built here, or null if it can. */
export function busyboxMissing(): string | null {
  if (!existsSync(HOST_BUSYBOX)) return `${HOST_BUSYBOX} is missing (apt-get install busybox-static)`;
  try {
    const file = execFileSync(HOST_BUSYBOX, ['--list-full'], { encoding: 'utf8' });
    if (!file.includes('bin/sh')) return `${HOST_BUSYBOX} has no sh applet`;
  } catch {
    return `${HOST_BUSYBOX} does not run`;
  }
  return null;
}

/**
 * Writes a layer: /bin/busybox plus one symlink per applet (like
 * `busybox --install -s`), /etc/passwd and /etc/group with root and
 * nobody, a root-owned 0644 /etc/root-only, and /tmp (1777).
 */
export function writeBusyboxLayer(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(HOST_BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(HOST_BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    const path = join(dir, applet);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync('/bin/busybox', path);
  }
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc', 'root-only'), 'owned by root\n', { mode: 0o644 });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  mkdirSync(join(dir, 'root'), { recursive: true, mode: 0o700 });
}

export interface OverlayDirs extends Required<RootLayers> {
  /** empty mountpoint for the merged root */
  merged: string;
}

/** Fresh upper/work/merged dirs over the given lower layers, under `base`. */
export async function makeOverlayDirs(base: string, lowerDirs: string[]): Promise<OverlayDirs> {
  const dir = await mkdtemp(join(base, 'run-'));
  const dirs = { lowerDirs, upperDir: join(dir, 'upper'), workDir: join(dir, 'work'), merged: join(dir, 'merged') };
  for (const d of [dirs.upperDir, dirs.workDir, dirs.merged]) mkdirSync(d);
  return dirs;
}
