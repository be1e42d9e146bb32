import * as fs from 'node:fs';
import { constants as fsc } from 'node:fs';
import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type { Digest } from './digest.js';
import { CacheError } from './errors.js';
import { lstatInRoot } from './layer-lower.js';
import { type TreeEntry, byteOrder, splitDev, walkTree } from './layer-walk.js';
import type { TarHeaderInput } from './tar-format.js';
import { SMALL_FILE_LIMIT, TarWriter } from './tar-writer.js';
import {
  OPAQUE_WHITEOUT, OVERLAY_METACOPY_XATTR, OVERLAY_OPAQUE_XATTR, OVERLAY_REDIRECT_XATTR, WHITEOUT_PREFIX,
} from './whiteout.js';
import { type Xattrs, isPortableXattr, readXattrTree } from './xattrs.js';

export interface LayerTarOptions {
  /** Clamp every mtime to min(mtime, sourceDateEpoch) (seconds). */
  sourceDateEpoch?: number;
}

export interface OverlayTarOptions extends LayerTarOptions {
  /**
   * The lower dirs of the mount, topmost first. Only needed when the mount
   * used metacopy=on: then an upper file may hold metadata only and its
   * data is read from the lower.
   */
  lowerDirs?: string[];
}

export interface LayerTarResult {
  /** sha256 of the uncompressed tar written to `out`. */
  diffId: Digest;
  size: number;
}

/** Files up to this size are read in one call; bigger ones are streamed. */
const SMALL_FILE = SMALL_FILE_LIMIT;

/**
 * A whole directory as one layer (for importing a rootfs, fixtures, or a
 * snapshot that is not an overlay upper). `out` is ended when done.
 */
export async function tarFromDir(dir: string, out: Writable, opts: LayerTarOptions = {}): Promise<LayerTarResult> {
  return abortOnError(out, () => dirPlan(path.resolve(dir), out, opts));
}

async function dirPlan(root: string, out: Writable, opts: LayerTarOptions): Promise<LayerTarResult> {
  const [tree, xattrs] = await Promise.all([walkTree(root), readXattrTree(root)]);
  const plan: Planned[] = [];
  for (const e of tree) {
    if (e.st.isSocket()) continue; // sockets are not archivable, as in Docker
    plan.push({ key: Buffer.from(e.rel), entry: e, kind: 'plain' });
  }
  return writePlan({ root, plan, xattrs, lowerDirs: [] }, out, opts);
}

/**
 * Converts an overlayfs upper dir into an OCI layer: 0/0 character devices
 * become `.wh.<name>` entries, directories marked opaque get a
 * `.wh..wh..opq` entry (ahead of their children) besides their contents.
 */
export async function tarFromOverlayUpper(upperDir: string, out: Writable, opts: OverlayTarOptions = {}): Promise<LayerTarResult> {
  return abortOnError(out, () => upperPlan(path.resolve(upperDir), out, opts));
}

async function upperPlan(root: string, out: Writable, opts: OverlayTarOptions): Promise<LayerTarResult> {
  const [tree, xattrs] = await Promise.all([walkTree(root), readXattrTree(root)]);
  const plan: Planned[] = [];
  for (const e of tree) {
    if (e.st.isSocket()) continue;
    const attrs = xattrs.get(e.rel);
    if (e.st.isDirectory() && attrs?.has(OVERLAY_REDIRECT_XATTR)) {
      throw new CacheError('UNSUPPORTED_FILE', `overlay upper ${root}: directory ${e.rel} was renamed with redirect_dir; mount overlays with redirect_dir=off`);
    }
    if (e.st.isCharacterDevice() && e.st.rdev === 0) {
      const slash = e.rel.lastIndexOf('/');
      const whName = e.rel.slice(0, slash + 1) + WHITEOUT_PREFIX + e.rel.slice(slash + 1);
      plan.push({ key: Buffer.from(whName), entry: e, kind: 'whiteout', name: whName });
      continue;
    }
    plan.push({ key: Buffer.from(e.rel), entry: e, kind: 'plain' });
    if (e.st.isDirectory() && attrs?.get(OVERLAY_OPAQUE_XATTR)?.toString() === 'y') {
      // Keyed "<dir>/" so it sorts after the directory and before all its children.
      plan.push({ key: Buffer.from(e.rel + '/'), entry: e, kind: 'opaque', name: e.rel + '/' + OPAQUE_WHITEOUT });
    }
  }
  return writePlan({ root, plan, xattrs, lowerDirs: opts.lowerDirs ?? [] }, out, opts);
}

interface Planned {
  /** Sort key: the entry's path bytes. */
  key: Buffer;
  entry: TreeEntry;
  kind: 'plain' | 'whiteout' | 'opaque';
  /** Tar name when it differs from entry.rel. */
  name?: string;
}

interface PlanInput {
  root: string;
  plan: Planned[];
  xattrs: Map<string, Xattrs>;
  lowerDirs: string[];
}

async function abortOnError(out: Writable, run: () => Promise<LayerTarResult>): Promise<LayerTarResult> {
  try {
    return await run();
  } catch (e) {
    // Abort whoever consumes `out` (e.g. a store write), so no half layer is kept.
    out.destroy(e as Error);
    throw e;
  }
}

async function writePlan({ root, plan, xattrs, lowerDirs }: PlanInput, out: Writable, opts: LayerTarOptions): Promise<LayerTarResult> {
  plan.sort((a, b) => byteOrder(a.key, b.key));
  const epoch = opts.sourceDateEpoch;
  const clamp = (st: Stats) => {
    const t = Math.floor(st.mtimeMs / 1000);
    return epoch === undefined ? Math.max(t, 0) : Math.max(Math.min(t, epoch), 0);
  };
  const writer = new TarWriter(out);
  const firstPathOfInode = new Map<string, string>();
  for (const p of plan) {
    const { rel, st } = p.entry;
    if (p.kind !== 'plain') {
      // Whiteout markers: empty root-owned files, time of the thing they mark.
      await writer.add({ name: p.name!, type: 'file', mode: 0, size: 0, mtime: clamp(st) });
      continue;
    }
    const base: Omit<TarHeaderInput, 'type'> = {
      name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: clamp(st),
      xattrs: portable(xattrs.get(rel)),
    };
    if (p.entry.inode) {
      const first = firstPathOfInode.get(p.entry.inode);
      if (first !== undefined) {
        await writer.add({ ...base, type: 'link', linkname: first, xattrs: undefined });
        continue;
      }
      firstPathOfInode.set(p.entry.inode, rel);
    }
    if (st.isDirectory()) {
      await writer.add({ ...base, type: 'dir' });
    } else if (st.isFile()) {
      const source = await dataSource(root, rel, st, xattrs.get(rel), lowerDirs);
      const header: TarHeaderInput = { ...base, type: 'file', size: source.size };
      if (source.size <= SMALL_FILE) {
        // Read in one synchronous call straight into the writer's buffer:
        // open+read+close through the threadpool would cost several times
        // the syscalls (layer-walk.ts), and a buffer per file more garbage.
        await writer.addSmallFile(header, (buf, offset, length) => readInto(source.file, buf, offset, length));
      } else {
        await writer.add(header, readLargeFile(source.file));
      }
    } else if (st.isSymbolicLink()) {
      await writer.add({ ...base, type: 'symlink', linkname: fs.readlinkSync(path.join(root, rel)) });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = splitDev(st.rdev);
      await writer.add({ ...base, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major, devminor: minor });
    } else if (st.isFIFO()) {
      await writer.add({ ...base, type: 'fifo' });
    }
  }
  return writer.finish();
}

function portable(attrs: Xattrs | undefined): Xattrs | undefined {
  if (!attrs) return undefined;
  const keep = new Map<string, Buffer>();
  for (const [k, v] of attrs) if (isPortableXattr(k)) keep.set(k, v);
  return keep.size > 0 ? keep : undefined;
}

interface DataSource {
  file: string;
  size: number;
}

/**
 * Where a regular file's bytes come from: the file itself, or with
 * overlay metacopy the lower file it was copied up from (metadata only).
 */
async function dataSource(root: string, rel: string, st: Stats, attrs: Xattrs | undefined, lowerDirs: string[]): Promise<DataSource> {
  let file = path.join(root, rel);
  let size = st.size;
  if (attrs?.has(OVERLAY_METACOPY_XATTR)) {
    const redirect = attrs.get(OVERLAY_REDIRECT_XATTR)?.toString('utf8');
    const lowerRel = redirect?.startsWith('/') ? redirect.slice(1) : rel;
    let found = false;
    for (const lower of lowerDirs) {
      const lst = await lstatInRoot(lower, lowerRel);
      if (lst?.isFile()) {
        file = path.join(lower, lowerRel);
        size = lst.size;
        found = true;
        break;
      }
    }
    if (!found) {
      throw new CacheError('UNSUPPORTED_FILE', `overlay upper ${root}: ${rel} is a metacopy whose data is not in the given lowerDirs; mount with metacopy=off`);
    }
  }
  return { file, size };
}

async function* readLargeFile(file: string): AsyncIterable<Buffer> {
  const fh = await fsp.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    yield* fh.createReadStream({ autoClose: false, highWaterMark: SMALL_FILE }) as AsyncIterable<Buffer>;
  } finally {
    await fh.close();
  }
}

/** Up to `length` bytes of the file into buf at offset; fewer if the file shrank (the writer reports that). */
function readInto(file: string, buf: Buffer, offset: number, length: number): number {
  const fd = fs.openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    let off = 0;
    while (off < length) {
      const n = fs.readSync(fd, buf, offset + off, length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off;
  } finally {
    fs.closeSync(fd);
  }
}
