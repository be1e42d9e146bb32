// Which snapshotter stacks a step's layers: the kernel's overlayfs, where
// it may be mounted (always as root; in a user namespace on kernels that
// allow it), else fuse-overlayfs (a FUSE server doing the same in user
// space), else native-copy: each view is a copy of its layers and a step's
// diff is found by comparing. All three leave a step's changes in an upper
// dir of overlayfs' format, so the layer made from it is the same tar
// whichever made it. Chosen once per process, on the first mount.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inUserNamespace } from '../../runner-native/index.js';
import { UsageError } from '../errors.js';
import { FUSE_OVERLAYFS, mountFuseOverlay } from './fuse-overlay.js';
import { mountOverlay, mountPointName } from './overlay.js';

export const SNAPSHOTTERS = ['overlayfs', 'fuse-overlayfs', 'native-copy'] as const;
export type SnapshotterName = typeof SNAPSHOTTERS[number];
/** The environment variable that forces one (read by the CLI). */
export const SNAPSHOTTER_ENV = 'TSBUILD_SNAPSHOTTER';

export interface SnapshotterChoice {
  name: SnapshotterName;
  /** Why this one, for `tsbuild info`. */
  reason: string;
}

let preference: SnapshotterName | 'auto' = 'auto';
let chosen: Promise<SnapshotterChoice> | undefined;

/** Forces a snapshotter (or 'auto'); an unknown name is a usage error. */
export function setSnapshotterPreference(value: string | undefined): void {
  const wanted = value === undefined || value === '' ? 'auto' : value;
  if (wanted !== 'auto' && !(SNAPSHOTTERS as readonly string[]).includes(wanted)) {
    throw new UsageError(`${SNAPSHOTTER_ENV}=${wanted}: unknown snapshotter (use ${SNAPSHOTTERS.join(', ')} or auto)`);
  }
  preference = wanted as SnapshotterName | 'auto';
  chosen = undefined;
}

/** The snapshotter of this process, probed in probeDir (a folder of the store) on first use. */
export function currentSnapshotter(probeDir: string): Promise<SnapshotterChoice> {
  chosen ??= choose(probeDir);
  return chosen;
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim().split('\n')[0]!;
}

// Mounts a one-layer view with an upper dir, exactly as a step would.
async function probe(probeDir: string, mount: typeof mountOverlay): Promise<string | undefined> {
  const dir = path.join(probeDir, mountPointName('probe'));
  const sub = (name: string) => path.join(dir, name);
  try {
    await Promise.all(['lower', 'upper', 'work'].map((d) => mkdir(sub(d), { recursive: true })));
    const view = await mount(sub('merged'), { lowerDirs: [sub('lower')], upperDir: sub('upper'), workDir: sub('work') });
    await view.release();
    return undefined;
  } catch (err) {
    return firstLine(err);
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Why fuse-overlayfs cannot be used here, or undefined. */
function fuseProblem(): string | undefined {
  if (spawnSync(FUSE_OVERLAYFS, ['--version'], { stdio: 'ignore' }).error) return `${FUSE_OVERLAYFS} is not installed (Debian package fuse-overlayfs)`;
  try {
    closeSync(openSync('/dev/fuse', 'r+'));
  } catch (err) {
    return `/dev/fuse cannot be opened (${(err as NodeJS.ErrnoException).code}; a stock host has it mode 0666)`;
  }
  return undefined;
}

async function choose(probeDir: string): Promise<SnapshotterChoice> {
  const userns = inUserNamespace();
  // As root the kernel's overlayfs always mounts: no probe, no cost.
  if (preference === 'auto' && !userns) return { name: 'overlayfs', reason: 'native' };
  if (preference === 'native-copy') return { name: 'native-copy', reason: `forced by ${SNAPSHOTTER_ENV}` };
  const nativeRefused = preference === 'fuse-overlayfs' ? 'not tried' : await probe(probeDir, mountOverlay);
  if (nativeRefused === undefined) {
    const where = userns ? `, in the user namespace: kernel ${os.release()} allows it, overlay xattrs as user.overlay.*` : '';
    return { name: 'overlayfs', reason: `native${where}${preference === 'overlayfs' ? `, forced by ${SNAPSHOTTER_ENV}` : ''}` };
  }
  if (preference === 'overlayfs') throw new UsageError(`${SNAPSHOTTER_ENV}=overlayfs: the kernel refuses an overlay mount here: ${nativeRefused}`);
  const fuse = fuseProblem() ?? await probe(probeDir, mountFuseOverlay);
  if (fuse === undefined) {
    return { name: 'fuse-overlayfs', reason: preference === 'fuse-overlayfs' ? `forced by ${SNAPSHOTTER_ENV}` : `native overlayfs refused: ${nativeRefused}` };
  }
  if (preference === 'fuse-overlayfs') throw new UsageError(`${SNAPSHOTTER_ENV}=fuse-overlayfs: ${fuse}`);
  return { name: 'native-copy', reason: `slow: native overlayfs refused (${nativeRefused}); fuse-overlayfs unusable (${fuse})` };
}
