// The layout of the store's one folder (see docs/store.md). Which folder
// that is, is the caller's choice (cli/store-root.ts for the CLI).
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
  checksums: string;      // per-context tables: file stat identity → content digest
}

export function storePaths(root: string): StorePaths {
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
    checksums: path.join(root, 'checksums'),
  };
}

// What `tsbuild serve` keeps of its clients' contexts (see
// builder/server/context-cache.ts). Not in StorePaths: only a server makes it.
export function contextCacheDir(root: string): string {
  return path.join(root, 'context');
}
