// Where tsbuild keeps its state: one folder, no daemon. $TSBUILD_ROOT wins;
// root uses /var/lib/tsbuild like other system builders, users their XDG
// data dir.
import os from 'node:os';
import path from 'node:path';

export interface StorePaths {
  root: string;
  content: string;        // ContentStore root: blobs/sha256/<hex>
  images: string;         // tags → manifest digests
  snapshots: string;      // unpacked layers, one dir each, usable as overlay lowerdirs
  mounts: string;         // overlay mount points of running steps (cleaned at start)
  cacheIndex: string;     // cache key → step result
  cacheMounts: string;    // RUN --mount=type=cache directories
  state: string;          // per-run sandbox state (hosts files, ...)
  containers: string;     // `tsbuild run -d` containers
}

export function defaultRoot(): string {
  if (process.env.TSBUILD_ROOT) return path.resolve(process.env.TSBUILD_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/tsbuild';
  const xdg = process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local/share');
  return path.join(xdg, 'tsbuild');
}

export function storePaths(root = defaultRoot()): StorePaths {
  return {
    root,
    content: path.join(root, 'content'),
    images: path.join(root, 'images'),
    snapshots: path.join(root, 'snapshots'),
    mounts: path.join(root, 'mounts'),
    cacheIndex: path.join(root, 'cache-index'),
    cacheMounts: path.join(root, 'cache-mounts'),
    state: path.join(root, 'state'),
    containers: path.join(root, 'containers'),
  };
}
