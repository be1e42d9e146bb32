// Where the compiled helper lives, and whether this machine can run sandboxes.
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_ROOT, cgroupVersion } from './cgroup.js';
import { packageRoot } from './package-root.js';

export const HELPER_NAME = 'tsbuild-sandbox';

/** <package root>/runner-native/build/tsbuild-sandbox, found from this module (works from src and from dist/). */
export function defaultHelperPath(): string {
  return join(packageRoot(), 'runner-native', 'build', HELPER_NAME);
}

export type Availability = { ok: true } | { ok: false; reason: string };

/** Checks the prerequisites of Sandbox.run, with a reason a user can act on. */
export async function sandboxAvailability(helperPath = defaultHelperPath(), cgroupRoot = CGROUP_ROOT): Promise<Availability> {
  if (process.platform !== 'linux') return { ok: false, reason: `sandboxes need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'sandboxes need root, or root of a user namespace (the tsbuild CLI enters one for a user: rootless mode)' };
  // Synchronous, as the checks below: each RUN asks, and a threadpool round
  // trip would let the build's background layer writes go first.
  try {
    accessSync(helperPath, constants.X_OK);
  } catch {
    return { ok: false, reason: `the sandbox helper ${helperPath} is missing; run \`npm run build\` (needs a C compiler)` };
  }
  const filesystems = readFileSync('/proc/filesystems', 'utf8');
  if (!/\boverlay$/m.test(filesystems)) return { ok: false, reason: 'the kernel has no overlayfs (try `modprobe overlay`)' };
  if (cgroupVersion(cgroupRoot) === null) return { ok: false, reason: `no cgroup v1 or v2 hierarchy under ${cgroupRoot}` };
  return { ok: true };
}
