import { closeSync, constants as fsc, openSync, readSync, readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { createHash } from '../runner-native/native-crypto.js';
import { monotonicMs } from './monotonic-clock.js';
import type { Digest } from './digest.js';
import { CacheError } from './errors.js';
import type { LayerIndex, SnapshotFile } from './layer-index.js';
import { lstatInRoot } from './layer-lower.js';
import { EntryStat, type TreeEntry, sortByUtf8, splitDev, walkTree } from './layer-walk.js';
import { BLOCK, type TarHeaderInput } from './tar-format.js';
import { SMALL_FILE_LIMIT, TarWriter } from './tar-writer.js';
import { BlobWindow, readBlobRange } from './blob-window.js';
import { PreviousEntries } from './previous-entries.js';
import {
  OPAQUE_WHITEOUT, OVERLAY_METACOPY_XATTR, OVERLAY_OPAQUE_XATTR, OVERLAY_REDIRECT_XATTR, WHITEOUT_PREFIX,
} from './whiteout.js';
import { type Xattrs, isPortableXattr, readXattrTree } from './xattrs.js';

export interface LayerTarOptions {
  /** Clamp every mtime to min(mtime, sourceDateEpoch) (seconds). */
  sourceDateEpoch?: number;
  /** Stops the write (it rejects with the signal's reason) at its next turn. */
  signal?: AbortSignal;
}

export interface OverlayTarOptions extends LayerTarOptions {
  /**
   * The lower dirs of the mount, topmost first. Only needed when the mount
   * used metacopy=on: then an upper file may hold metadata only and its
   * data is read from the lower.
   */
  lowerDirs?: string[];
  /** Also make the layer's index (cache/layer-index.ts), helped by the previous one. */
  index?: { previous?: PreviousLayer };
}

/**
 * The layer a re-run step's upper dir shares files with: the files the
 * step hard-linked from its snapshot have their data taken from its blob
 * (one read each, no open) and their digests from its index.
 */
export interface PreviousLayer {
  index: LayerIndex;
  /** The previous layer's uncompressed tar, open for reading. */
  blobFd: number;
  /** Upper-dir path (no leading '/') → `dev:ino` of the snapshot file linked there. */
  linked: ReadonlyMap<string, string>;
  /**
   * Each path in `linked` still holds that very file (nothing replaced it
   * since), and the index describes the snapshot dir it was linked from
   * (LayerIndex.snapshot matched): the walk then takes such a file's lstat
   * from the index instead of asking the kernel.
   */
  linkedExact?: boolean;
}

export interface LayerTarResult {
  /** sha256 of the uncompressed tar written to `out`. */
  diffId: Digest;
  size: number;
  /** When asked for: each regular file's data offset, size and sha256. */
  index?: LayerIndex;
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
    plan.push({ key: e.rel, entry: e, kind: 'plain' });
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
  // An upper dir is never mounted on, nor holds a mount.
  const [tree, xattrs] = await Promise.all([walkTree(root, linkedEntries(opts.index?.previous)), readXattrTree(root, { unmounted: true })]);
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
      plan.push({ key: whName, entry: e, kind: 'whiteout', name: whName });
      continue;
    }
    plan.push({ key: e.rel, entry: e, kind: 'plain' });
    if (e.st.isDirectory() && attrs?.get(OVERLAY_OPAQUE_XATTR)?.toString() === 'y') {
      // Keyed "<dir>/" so it sorts after the directory and before all its children.
      plan.push({ key: e.rel + '/', entry: e, kind: 'opaque', name: e.rel + '/' + OPAQUE_WHITEOUT });
    }
  }
  return writePlan({ root, plan, xattrs, lowerDirs: opts.lowerDirs ?? [], index: opts.index }, out, opts);
}

/**
 * The walk's entry of each file a re-run COPY hard-linked from its previous
 * snapshot, from the previous layer's index (see PreviousLayer.linkedExact):
 * the inode is the snapshot's own, and its mode, owner, size and mtime are
 * what the index recorded of it (snapshots never change, and the copier
 * linked it because they were what the copy would set). 5,000 linked files:
 * 5,000 lstats (and their Stats) fewer while the next step starts.
 */
function linkedEntries(previous: PreviousLayer | undefined): ((rel: string) => TreeEntry | undefined) | undefined {
  if (!previous?.linkedExact || previous.linked.size === 0) return undefined;
  const { index, linked } = previous;
  return (rel) => {
    const inode = linked.get(rel);
    const known = inode === undefined ? undefined : index.get(rel);
    const was = known?.snapshot;
    if (!known || !was || was.inode !== inode) return undefined;
    const colon = inode.indexOf(':');
    const dev = Number(inode.slice(0, colon));
    const ino = Number(inode.slice(colon + 1));
    if (colon <= 0 || !Number.isSafeInteger(dev) || !Number.isSafeInteger(ino)) return undefined;
    const st = new EntryStat({ mode: fsc.S_IFREG | was.perm, uid: was.uid, gid: was.gid, size: known.size, mtimeMs: was.mtimeMs, rdev: 0, dev, ino });
    // Linked, so at least two links: the walk gives such a file its inode.
    return { rel, st, inode };
  };
}

interface Planned {
  /** Sort key: the entry's path (sorted by its UTF-8 bytes). */
  key: string;
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
  index?: OverlayTarOptions['index'];
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

async function writePlan({ root, plan, xattrs, lowerDirs, index: indexOpts }: PlanInput, out: Writable, opts: LayerTarOptions): Promise<LayerTarResult> {
  // Layer entries go in the byte order of their UTF-8 paths.
  sortByUtf8(plan, (p) => p.key);
  const epoch = opts.sourceDateEpoch;
  const clamp = (st: EntryStat) => {
    const t = Math.floor(st.mtimeMs / 1000);
    return epoch === undefined ? Math.max(t, 0) : Math.max(Math.min(t, epoch), 0);
  };
  const writer = new TarWriter(out);
  const firstPathOfInode = new Map<string, string>();
  const index: LayerIndex | undefined = indexOpts ? new Map() : undefined;
  if (index) index.sourceDateEpoch = epoch ?? null;
  const previous = indexOpts?.previous;
  const blob = previous && new BlobWindow(previous.blobFd);
  const whole = previous && index && PreviousEntries.open(previous.index, previous.linked, previous.blobFd, writer, epoch);
  const turn = new TurnTaker(opts.signal);
  for (const p of plan) {
    if (turn.due()) await turn.take();
    const { rel, st } = p.entry;
    if (whole) {
      // A file linked from the previous snapshot: its entry, from the previous blob.
      const inode = p.entry.inode;
      const entry = p.kind === 'plain' && st.isFile() && inode !== undefined && !firstPathOfInode.has(inode)
        ? whole.entryFor(rel, inode, st, xattrs.get(rel), clamp(st)) : undefined;
      if (entry) {
        if (!whole.continues(entry)) await whole.flush();
        firstPathOfInode.set(inode!, rel);
        const was = entry.snapshot!;
        index!.set(rel, { offset: whole.take(entry), size: entry.size, sha256: entry.sha256, snapshot: was.inode === inode ? was : snapshotFile(st, undefined) });
        continue;
      }
      if (whole.pending) await whole.flush();
    }
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
      const attrs = xattrs.get(rel);
      // Without overlay metacopy the data is the file's own: no await per file.
      const source = attrs?.has(OVERLAY_METACOPY_XATTR) ? await dataSource(root, rel, st, attrs, lowerDirs) : { file: root + '/' + rel, size: st.size };
      const header: TarHeaderInput = { ...base, type: 'file', size: source.size };
      // The previous snapshot's own file (the very inode): its bytes are in the previous blob.
      const known = previous && p.entry.inode !== undefined && previous.linked.get(rel) === p.entry.inode ? previous.index.get(rel) : undefined;
      const fromPrevious = known?.size === source.size ? known : undefined;
      const from = fromPrevious && blob ? { blob, offset: fromPrevious.offset } : undefined;
      const digest = index !== undefined && !fromPrevious;
      const entry = writeSmallFileNow(writer, header, source.file, from, digest) ?? await writeFile(writer, header, source.file, from, digest);
      if (index) index.set(rel, { offset: entry.offset, size: source.size, sha256: fromPrevious?.sha256 ?? entry.sha256!, snapshot: snapshotFile(st, xattrs.get(rel)) });
    } else if (st.isSymbolicLink()) {
      await writer.add({ ...base, type: 'symlink', linkname: readlinkSync(path.join(root, rel)) });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = splitDev(st.rdev);
      await writer.add({ ...base, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major, devminor: minor });
    } else if (st.isFIFO()) {
      await writer.add({ ...base, type: 'fifo' });
    }
  }
  await whole?.flush();
  return { ...(await writer.finish()), index };
}

/**
 * Lets the event loop run every few milliseconds. Most of a layer write is
 * synchronous (small files are read and written by sync calls, see
 * writeFile); a layer written in the background while the next step runs
 * would otherwise hold the thread for its whole length, and that step's
 * own callbacks (its sandbox starting, its output) would wait for it.
 */
class TurnTaker {
  private last = monotonicMs();
  private entries = 0;

  constructor(private readonly signal?: AbortSignal) {}

  /** Whether the event loop is owed a turn (checked per entry: no promise, and a clock read every 32nd). */
  due(): boolean {
    this.signal?.throwIfAborted();
    if ((++this.entries & 31) !== 0) return false;
    return monotonicMs() - this.last >= TURN_MS;
  }

  async take(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.last = monotonicMs();
  }
}

/** How long a layer write holds the thread at most before the event loop gets a turn. */
const TURN_MS = 2;

interface WrittenFile {
  /** Offset of the data in the tar. */
  offset: number;
  /** sha256 (hex) of the data, when asked for. */
  sha256?: string;
}

/**
 * Adds a regular file whose bytes come from `file`, or from a range of the
 * previous layer's blob; hashes them on the way when `digest` is set.
 */
async function writeFile(writer: TarWriter, header: TarHeaderInput, file: string, blob: { blob: BlobWindow; offset: number } | undefined, digest: boolean): Promise<WrittenFile> {
  const size = header.size ?? 0;
  let offset = -1;
  let sha256: string | undefined;
  if (size <= SMALL_FILE) {
    // Read in one synchronous call straight into the writer's buffer:
    // open+read+close through the threadpool would cost several times
    // the syscalls (layer-walk.ts), and a buffer per file more garbage.
    await writer.addSmallFile(header, (buf, at, length) => {
      offset = writer.position;
      const got = blob ? blob.blob.read(blob.offset, buf, at, length) : readInto(file, buf, at, length);
      if (digest) sha256 = createHash('sha256').update(buf.subarray(at, at + got)).digest('hex');
      return got;
    });
  } else {
    const hash = digest ? createHash('sha256') : undefined;
    const chunks = blob ? readBlobRange(blob.blob, blob.offset, size) : readLargeFile(file);
    await writer.add(header, (async function* () {
      offset = writer.position;
      let seen = 0;
      for await (const chunk of chunks) {
        // The writer cuts a file that grew at its announced size: so does the digest.
        hash?.update(seen + chunk.length > size ? chunk.subarray(0, size - seen) : chunk);
        seen += chunk.length;
        yield chunk;
      }
    })());
    sha256 = hash?.digest('hex');
  }
  // An empty file has no data to read: it sits where the next entry starts.
  if (offset < 0) offset = writer.position;
  if (digest && sha256 === undefined) sha256 = createHash('sha256').digest('hex');
  return { offset, sha256 };
}

/** writeFile of a small file with no promise, when the writer can take it so (TarWriter.addSmallFileNow); undefined when it cannot. */
function writeSmallFileNow(writer: TarWriter, header: TarHeaderInput, file: string, blob: { blob: BlobWindow; offset: number } | undefined, digest: boolean): WrittenFile | undefined {
  const size = header.size ?? 0;
  if (size > SMALL_FILE) return undefined;
  let offset = writer.position + BLOCK;
  let sha256: string | undefined;
  const added = writer.addSmallFileNow(header, (buf, at, length) => {
    offset = writer.position;
    const got = blob ? blob.blob.read(blob.offset, buf, at, length) : readInto(file, buf, at, length);
    if (digest) sha256 = createHash('sha256').update(buf.subarray(at, at + got)).digest('hex');
    return got;
  });
  if (!added) return undefined;
  if (digest && sha256 === undefined) sha256 = EMPTY_SHA256;
  return { offset, sha256 };
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');

// What the snapshot dir (this upper, once published) holds at the path,
// for a re-run to decide a link without an lstat. Left out for a file with
// xattrs (the index does not describe them) or an inode number above 2^53.
function snapshotFile(st: EntryStat, attrs: Xattrs | undefined): SnapshotFile | undefined {
  if (attrs !== undefined && attrs.size > 0) return undefined;
  if (!Number.isSafeInteger(st.dev) || !Number.isSafeInteger(st.ino)) return undefined;
  return { perm: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, inode: `${st.dev}:${st.ino}` };
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
async function dataSource(root: string, rel: string, st: EntryStat, attrs: Xattrs | undefined, lowerDirs: string[]): Promise<DataSource> {
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
  const fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    let off = 0;
    while (off < length) {
      const n = readSync(fd, buf, offset + off, length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off;
  } finally {
    closeSync(fd);
  }
}
