// The overlay root for an OCI runtime run. runc/crun do not mount
// overlays, so we do, but not on the host: the runtime is started through
// `unshare --mount --propagation private`, a shell there mounts the overlay
// at root.path and then execs the runtime. The overlay thus lives only in
// that private mount namespace (and the container's, made from it) and the
// kernel unmounts it when the last process there ends — even if tsbuild is
// killed with kill -9, nothing stays mounted on the host, as on the native
// path. Same overlay options as the native helper (helper/rootfs.c).
import { overlayRecord } from './helper-config.js';
import type { RootLayers } from './spec.js';

const UPPER_OPTIONS = 'volatile,index=off,xino=off,redirect_dir=off,metacopy=off';

// Mount failures are written to fd 3 (read by the caller as a setup error),
// never to the command's stderr; fd 3 is closed before the runtime starts.
const MOUNT_THEN_EXEC = [
  'cd "$1" || { echo "chdir $1 failed" >&3; exit 125; }',
  'mount -t overlay overlay -o "$2" "$3" 2>&3 || exit 125',
  'exec 3>&-',
  'shift 3',
  'exec "$@"',
].join('\n');

function unescapeField(field: string): string {
  return field.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c));
}

/** overlay mount data and the dir it is relative to (layer paths become relative when absolute ones would overflow a page). */
export function overlayMountData(layers: RootLayers): { data: string; cwd: string } {
  // overlayRecord validates the layers and picks absolute or relative paths, exactly as for the native helper
  const [, lower, upper, work, cwd] = overlayRecord(layers).split('\t').map(unescapeField);
  const data = upper ? `lowerdir=${lower},upperdir=${upper},workdir=${work},${UPPER_OPTIONS}` : `lowerdir=${lower}`;
  return { data, cwd: cwd || '/' };
}

/** argv that runs `command` with the overlay of `layers` mounted at `rootPath` in a private mount namespace. */
export function withPrivateOverlay(layers: RootLayers, rootPath: string, command: string[]): string[] {
  const { data, cwd } = overlayMountData(layers);
  return ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', MOUNT_THEN_EXEC, 'sh', cwd, data, rootPath, ...command];
}
