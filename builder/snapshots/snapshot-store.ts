// Unpacked layers, one directory each, stacked with overlayfs to make a
// step's root filesystem. A snapshot is named by its layer's diff id, so a
// layer unpacked once serves every image and step that contains it. Each
// keeps overlayfs' own whiteout format (0/0 char devices, opaque xattrs), so
// it can be used as a lowerdir as is.
import { randomBytes } from '../../runner-native/native-crypto.js';
import { once } from 'node:events';
import { constants, existsSync, mkdirSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { listDir } from '../../cache/list-dir.js';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { ContentStore } from '../../cache/content-store.js';
import { hexOf, type Digest } from '../../cache/digest.js';
import type { LayerIndex } from '../../cache/layer-index.js';
import type { TarEntryName } from '../../cache/layer-unpack.js';
// The tar reader/writer load on first use: a fully cached build needs neither.
import { MediaType } from '../image/types.js';
import { pidOfTempName, processAlive } from '../../cache/process-alive.js';
import { statQuiet } from '../../cache/quiet-stat.js';

export interface LayerRecord {
  diffId: Digest;
  blob: Digest;        // the blob in the content store (our own layers: the uncompressed tar)
  size: number;        // blob size
  mediaType: string;
  created?: string;    // when the step made it (ISO; SOURCE_DATE_EPOCH when set)
}

export interface CommitOptions {
  sourceDateEpoch?: number;
  index?: CommitIndexOptions;
  /** Stops writing the layer (a canceled build): the commit then fails and leaves nothing behind. */
  signal?: AbortSignal;
  /**
   * Told the layer's record as soon as its tar is written and digested,
   * before the blob is made durable and moved in (an image's config and
   * manifest need only the digests: see pending-layer.ts).
   */
  onDigested?: (record: LayerRecord) => void;
}

/** A layer whose blob is written and whose snapshot is not published yet (SnapshotStore.writeLayer). */
export interface WrittenLayer {
  record: LayerRecord;
  index?: LayerIndex;
}

export interface CommitIndexOptions {
  /** The layer the step made last time, whose snapshot it linked files from. */
  previous?: LayerRecord;
  /** Upper-dir path → `dev:ino` of the previous snapshot's file linked there. */
  linked?: ReadonlyMap<string, string>;
  /** `linked` is exact and the previous index describes its snapshot dir: see PreviousLayer.linkedExact (cache/layer-diff.ts). */
  linkedExact?: boolean;
}

/** A layer as its unpack read it: the diff id and every entry. */
export interface UnpackedLayerFacts {
  diffId: Digest;
  entries: TarEntryName[];
}

export interface Workspace {
  dir: string;
  upper: string;
  work: string;
  merged: string;
}

// Overlay option strings are limited to a page: keep snapshot paths short.
const NAME_HEX = 24;

export class SnapshotStore {
  // Brings a layer blob the content store lacks
  // into it (a step result imported from a remote build cache carries
  // layers that are only downloaded when a step needs their files).
  blobFetcher?: (layer: LayerRecord) => Promise<void>;
  // Layers being unpacked while they download, by blob digest, and when
  // those unpacks started and ended (for progress: see streamedUnpack).
  private readonly streaming = new Map<string, Promise<void>>();
  private readonly streamed = new Map<string, { startedAt: number; endedAt?: number }>();

  // Told of each snapshot this store publishes (the size limit measures
  // new snapshots while the build goes on: builder/pipeline/cache-session.ts).
  onPublished?: (dir: string) => void;

  // The last layer index read: a re-run COPY reads its previous layer's
  // twice (to link unchanged files, then to take their bytes for the new
  // layer). One only, so that a long-lived server holds no more.
  private lastIndex: { blob: string; index: Promise<LayerIndex | undefined> } | undefined;

  constructor(private readonly dir: string, private readonly content: ContentStore) {}

  dirOf(diffId: Digest): string {
    return path.join(this.dir, hexOf(diffId).slice(0, NAME_HEX));
  }

  // One stat, synchronous: a threadpool round trip would queue behind the
  // build's layer writes (a COPY asks for its previous layer's).
  async has(diffId: Digest): Promise<boolean> {
    return statQuiet(this.dirOf(diffId)) !== undefined;
  }

  // Unpacks the layer's blob unless its snapshot exists; returns the snapshot
  // dir. lowerDirs (topmost first) are the layers beneath it: a hard link to
  // a lower file, or a directory the tar only implies, is resolved from them.
  async ensure(layer: LayerRecord, lowerDirs: string[] = []): Promise<string> {
    const final = this.dirOf(layer.diffId);
    // Unpacked already (a rebuild's usual case): found without an await, so
    // a step does not yield here to the layer writes running in the
    // background (their JS runs on this thread too), which would otherwise
    // go first while the step waits.
    if (!this.streaming.has(layer.blob) && existsSync(final)) return final;
    await this.streaming.get(layer.blob);
    if (await this.has(layer.diffId)) return final;
    // Fetch a lazily imported layer first.
    if (this.blobFetcher && !(await this.content.has(layer.blob))) await this.blobFetcher(layer);
    const tmp = await this.tempDir('unpack');
    try {
      const { applyLayer } = await import('../../cache/layer-unpack.js');
      const { diffId } = await applyLayer(this.content.openRead(layer.blob), tmp, { overlayWhiteouts: true, lowerDirs });
      if (diffId !== layer.diffId) throw new Error(`layer ${layer.blob} unpacks to ${diffId}, but the image says ${layer.diffId}`);
      await this.publish(tmp, final);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return final;
  }

  // Unpacks a bottom layer (nothing beneath it) from its bytes as they
  // download, so the unpack overlaps the transfer. The result is
  // provisional: it is published only once the blob is verified
  // (`downloaded`) and its diff id is the one the image config names
  // (`expected`), and thrown away otherwise; ensure() then unpacks from the
  // stored blob as usual, and reports any error.
  // Resolves, as soon as the last entry is unpacked, with what the pull's
  // image check needs of the layer (its diff id and entries), so that it
  // does not read and decompress the blob once more; rejects when the
  // unpack fails (the check then reads the blob itself and says why).
  unpackWhileDownloading(blob: Digest, chunks: AsyncIterable<Buffer>, downloaded: Promise<void>, expected: Promise<Digest>): Promise<UnpackedLayerFacts> {
    const times: { startedAt: number; endedAt?: number } = { startedAt: Date.now() };
    this.streamed.set(blob, times);
    let unpacked!: (facts: UnpackedLayerFacts) => void;
    const facts = new Promise<UnpackedLayerFacts>((resolve) => (unpacked = resolve));
    const work = (async () => {
      const tmp = await this.tempDir('unpack');
      try {
        const { applyLayer } = await import('../../cache/layer-unpack.js');
        const entries: TarEntryName[] = [];
        const { diffId } = await applyLayer(chunks, tmp, { overlayWhiteouts: true, lowerDirs: [], entries });
        unpacked({ diffId, entries });
        await downloaded;
        if (diffId === (await expected)) await this.publish(tmp, this.dirOf(diffId));
      } finally {
        times.endedAt = Date.now();
        await rm(tmp, { recursive: true, force: true });
      }
    })();
    this.streaming.set(blob, work.catch(() => undefined).finally(() => this.streaming.delete(blob)));
    // A failed unpack rejects the facts (`work` settles before them otherwise).
    return Promise.race([facts, work.then(() => facts)]);
  }

  // When this process unpacked the layer while downloading it, if it did.
  streamedUnpack(blob: Digest): { startedAt: number; endedAt?: number } | undefined {
    return this.streamed.get(blob);
  }

  // A fresh upper/work/merged trio for one step; `merged` is made only
  // for a RUN (`mountPoint`), whose sandbox mounts its root there: other
  // steps mount their views under the store's mounts dir.
  // Made and, once committed, removed by synchronous calls: a handful of
  // empty dirs, where each threadpool round trip sits on the step's
  // critical path (tens of ms per step on a loaded machine).
  async workspace(opts: { mountPoint?: boolean } = {}): Promise<Workspace> {
    const dir = path.join(this.dir, `tmp-ws-${process.pid}-${randomBytes(6).toString('hex')}`);
    const ws = { dir, upper: path.join(dir, 'upper'), work: path.join(dir, 'work'), merged: path.join(dir, 'merged') };
    mkdirSync(dir, { recursive: true });
    for (const sub of opts.mountPoint ? [ws.upper, ws.work, ws.merged] : [ws.upper, ws.work]) mkdirSync(sub);
    return ws;
  }

  // Turns a step's upper dir into a layer blob and a snapshot. A step that
  // changed nothing still gets a layer (an empty tar), as BuildKit gives
  // every RUN, COPY, ADD and WORKDIR one: layer counts and history match
  // docker's. The workspace is gone afterwards either way. With `index`
  // (COPY and ADD) the blob gets its layer index (cache/layer-index.ts), and
  // the files the step linked from its previous layer's snapshot are read
  // from that layer's blob.
  async commit(ws: Workspace, opts: CommitOptions = {}): Promise<LayerRecord> {
    let written: WrittenLayer;
    try {
      written = await this.writeLayer(ws, opts);
    } catch (err) {
      await this.discard(ws);
      throw err;
    }
    const { record, rest } = await this.publishLayer(ws, written);
    await rest;
    return record;
  }

  // The first half of commit: the layer's blob, in the content store. The
  // upper dir stays where it is (a later step may use it as a lower dir
  // meanwhile); publishLayer then moves it in as the snapshot, and discard
  // removes it when the write failed.
  async writeLayer(ws: Workspace, opts: CommitOptions = {}): Promise<WrittenLayer> {
    const previous = opts.index ? await this.openPrevious(opts.index) : undefined;
    let tarPath: string | undefined;
    let out: Writable | undefined;
    try {
      tarPath = await this.content.newTempPath('layer');
      const [{ tarFromOverlayUpper }, { EarlyFlushFileSink }] = await Promise.all([
        import('../../cache/layer-diff.js'), import('../../cache/layer-file-sink.js')]);
      // Flushed to disk while it is written, so adoptFile's fsync is cheap.
      out = new EarlyFlushFileSink(tarPath);
      // Its failures reach us through the tar writer; one destroyed before
      // the writer listens (the upper dir could not be walked) is no crash.
      out.on('error', () => undefined);
      // The tar writer hashed every byte it wrote: the blob is moved in
      // without being read back (each layer's bytes are written once).
      const written = await tarFromOverlayUpper(ws.upper, out, {
        sourceDateEpoch: opts.sourceDateEpoch,
        signal: opts.signal,
        index: opts.index ? { previous: previous && { ...previous, linked: opts.index.linked ?? new Map(), linkedExact: opts.index.linkedExact } } : undefined,
      });
      if (!out.closed) await once(out, 'close');
      const created = new Date(opts.sourceDateEpoch !== undefined ? opts.sourceDateEpoch * 1000 : Date.now()).toISOString();
      // Our own layers' blob is the tar itself: its digest is the diff id.
      const record: LayerRecord = { diffId: written.diffId, blob: written.diffId, size: written.size, mediaType: MediaType.ociLayer, created };
      opts.onDigested?.(record);
      await this.content.adoptFile(tarPath, written.diffId, written.size);
      return { record, index: written.index };
    } catch (err) {
      // A half-written tar is nobody's: gone now rather than at the next
      // start (once the sink let go of it: it may still be opening it).
      const sink = out;
      if (sink && !sink.closed) await new Promise((resolve) => sink.once('close', resolve));
      if (tarPath !== undefined) await rm(tarPath, { force: true });
      throw err;
    } finally {
      await previous?.close();
    }
  }

  // The second half of commit: the upper dir becomes the layer's snapshot
  // (unless another build published that layer first). The layer index and
  // the removal of the rest of the workspace follow in `rest`, which the
  // caller must wait for before it ends (nothing needs them sooner).
  async publishLayer(ws: Workspace, { record, index }: WrittenLayer): Promise<{ record: LayerRecord; rest: Promise<void> }> {
    let published: boolean;
    try {
      published = await this.publish(ws.upper, this.dirOf(record.diffId));
    } catch (err) {
      await rm(ws.dir, { recursive: true, force: true });
      throw err;
    }
    const rest = (async () => {
      try {
        if (!index) return;
        const { snapshotIdentity, writeLayerIndex } = await import('../../cache/layer-index.js');
        // What the index says of the snapshot's files holds for this upper
        // dir only: when another made the snapshot first, it names none.
        index.snapshot = published ? snapshotIdentity(this.dirOf(record.diffId)) : undefined;
        await writeLayerIndex(this.content.root, this.content.tempDir(), record.blob, index);
      } finally {
        // Once the upper dir moved, only the overlay's work dir and the
        // mount point are left: a few synchronous calls, where threadpool
        // round trips queued behind the build's fsyncs before it could end.
        // Otherwise the upper dir holds a whole tree.
        if (published) removeEmptiedWorkspace(ws);
        else await rm(ws.dir, { recursive: true, force: true });
      }
    })();
    return { record, rest };
  }

  // The previous layer's index and its blob, opened, when both are there
  // and the blob is the plain tar (our own layers; an imported one may be
  // compressed).
  private async openPrevious({ previous }: CommitIndexOptions): Promise<{ index: LayerIndex; blobFd: number; close(): Promise<void> } | undefined> {
    if (!previous || previous.blob !== previous.diffId) return undefined;
    const index = await this.readIndex(previous.blob);
    if (!index) return undefined;
    const fh = await open(this.content.path(previous.blob), constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
    return fh && { index, blobFd: fh.fd, close: () => fh.close() };
  }

  // The index of a layer blob, when the store has one.
  async layerIndex(layer: LayerRecord): Promise<LayerIndex | undefined> {
    if (layer.blob !== layer.diffId) return undefined;
    return this.readIndex(layer.blob);
  }

  // Indexes are immutable once published under their blob's digest; callers only read them.
  private readIndex(blob: Digest): Promise<LayerIndex | undefined> {
    if (this.lastIndex?.blob !== blob) {
      const index = import('../../cache/layer-index.js').then(({ readLayerIndex }) => readLayerIndex(this.content.root, blob));
      this.lastIndex = { blob, index };
    }
    return this.lastIndex.index;
  }

  async discard(ws: Workspace): Promise<void> {
    await rm(ws.dir, { recursive: true, force: true });
  }

  // A snapshot dir with nothing in it, the lowerdir of `FROM scratch` steps.
  async empty(): Promise<string> {
    const dir = path.join(this.dir, 'empty');
    // Every step's view asks: one syscall finds it there, without a yield (see ensure).
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  // Removes temp dirs of tsbuild processes that died (kill -9, crash);
  // a live process's dirs carry its pid and are left alone.
  async removeStaleTemp(): Promise<void> {
    for (const e of listDir(this.dir)) {
      const pid = e.startsWith('tmp-') ? pidOfTempName(e) : undefined;
      if (pid !== undefined && !processAlive(pid)) await rm(path.join(this.dir, e), { recursive: true, force: true });
    }
  }

  private async tempDir(label: string): Promise<string> {
    const dir = path.join(this.dir, `tmp-${label}-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  // Rename is atomic: a concurrent process that published the same layer
  // first wins, and ours is simply dropped.
  // True when ours was moved in.
  private async publish(from: string, to: string): Promise<boolean> {
    try {
      // One rename, synchronous: the build's end waits for every publish.
      renameSync(from, to);
      this.onPublished?.(to);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      return false;
    }
  }
}

// What is left of a workspace once its upper dir moved out: the overlay's
// work dir (with what a volatile mount leaves in it) and a RUN's mount
// point, removed by name, deepest first: a third of the calls of a
// recursive removal, which lists and retries every level. Anything else
// found there (another kernel's work files) falls back to that removal.
const WORKSPACE_LEFTOVERS = ['work/work/incompat/volatile/dirty', 'work/work/incompat/volatile', 'work/work/incompat', 'work/work', 'work', 'merged', ''];

function removeEmptiedWorkspace(ws: Workspace): void {
  try {
    for (const rel of WORKSPACE_LEFTOVERS) {
      const p = rel ? path.join(ws.dir, rel) : ws.dir;
      try {
        if (rel.endsWith('dirty')) unlinkSync(p);
        else rmdirSync(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  } catch {
    rmSync(ws.dir, { recursive: true, force: true });
  }
}
