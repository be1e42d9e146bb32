// Layers written in the background: a step's upper dir is turned into its
// layer tar (and digested) while the steps after it already run on it. A
// step on top needs its parent's files, not its tar: until the blob is
// written the upper dir itself serves as the lower dir, and only what
// needs the digests (the cache index, the image config) waits for them.
import type { Digest } from '../../cache/digest.js';
import type { CommitOptions, LayerRecord, SnapshotStore, Workspace, WrittenLayer } from './snapshot-store.js';

const FIELDS = ['diffId', 'blob', 'size', 'mediaType', 'created'] as const;

/**
 * A LayerRecord whose blob is being written. Its fields can be read once
 * `digested` resolved (the tar is written and hashed, the blob not yet
 * durable); reading one earlier is a bug in tsbuild and throws (rather
 * than giving a wrong digest). What must find the blob in the store (the
 * cache index, an image's name) waits for `written`. Once digested it is a
 * plain record for every reader: spread and JSON see exactly the record's
 * fields.
 */
export class PendingLayer implements LayerRecord {
  declare readonly diffId: Digest;
  declare readonly blob: Digest;
  declare readonly size: number;
  declare readonly mediaType: string;
  declare readonly created?: string;
  readonly #written: Promise<void>;
  readonly #digested: Promise<void>;
  #upperDir: string | undefined;
  readonly #write: Promise<WrittenLayer>;

  // digested: the record, as soon as its digests are known (rejects when the write fails before).
  constructor(upperDir: string, write: Promise<WrittenLayer>, digested: Promise<LayerRecord> = write.then((w) => w.record)) {
    this.#upperDir = upperDir;
    this.#write = write;
    for (const f of FIELDS) {
      Object.defineProperty(this, f, {
        enumerable: true, configurable: true,
        get: () => { throw new Error(`tsbuild bug: the ${f} of a layer was read before its blob was digested`); },
      });
    }
    this.#digested = digested.then((record) => {
      for (const f of FIELDS) {
        if (record[f] !== undefined) Object.defineProperty(this, f, { value: record[f], enumerable: true, writable: false, configurable: false });
        else Reflect.deleteProperty(this, f);
      }
    });
    this.#written = Promise.all([this.#digested, write]).then(() => undefined);
    // Whoever needs the layer observes the failure; this one only must not crash the process.
    this.#digested.catch(() => undefined);
    this.#written.catch(() => undefined);
  }

  /** Resolves once the layer's fields (its digests) can be read; rejects when the write failed first. */
  get digested(): Promise<void> {
    return this.#digested;
  }

  /**
   * Resolves once the blob is in the content store; rejects with why it
   * could not be written. (Private fields and accessors: a written layer
   * spreads and serialises as its record's fields only.)
   */
  get written(): Promise<void> {
    return this.#written;
  }

  /**
   * The dir that holds the layer's files until its snapshot is published
   * (the step's upper dir), undefined after: then the snapshot store has it
   * under the diff id, like any layer's.
   */
  get unpublishedDir(): string | undefined {
    return this.#upperDir;
  }

  /** @internal LayerWrites.finish: the write's outcome, and the dir that no longer serves. */
  settle(): Promise<WrittenLayer> {
    return this.#write;
  }

  /** @internal */
  markPublished(): void {
    this.#upperDir = undefined;
  }
}

/**
 * The layers one build writes in the background. A snapshot is published
 * (its upper dir renamed to the diff id's name) only in finish(), once no
 * step of the build can be about to mount the upper dir by its old path.
 */
export class LayerWrites {
  private readonly pending: { layer: PendingLayer; ws: Workspace }[] = [];
  private readonly tidying: Promise<void>[] = [];
  private finishing = false;

  // signal: the build's cancellation (Ctrl-C), which stops the writes too.
  constructor(private readonly snapshots: SnapshotStore, private readonly signal?: AbortSignal) {}

  /** Starts writing the workspace's layer; the workspace is the caller's no more. */
  start(ws: Workspace, opts: CommitOptions): PendingLayer {
    let digested!: (record: LayerRecord) => void;
    const record = new Promise<LayerRecord>((resolve) => (digested = resolve));
    const write = this.snapshots.writeLayer(ws, { ...opts, ...(this.signal ? { signal: this.signal } : {}), onDigested: digested });
    // A write that fails before its digests are known fails them too.
    const layer = new PendingLayer(ws.upper, write, Promise.race([record, write.then(() => record)]));
    if (!this.finishing) {
      this.pending.push({ layer, ws });
      return layer;
    }
    // A step that ended after its build's solve did (canceled, it finished
    // anyway): nothing of the build runs on it any more, so it is published
    // as soon as it is written, or removed.
    this.tidying.push(this.publishOrDiscard(layer, ws).then(({ rest }) => rest).catch(() => undefined));
    return layer;
  }

  /**
   * Resolves once every layer in `layers` has its blob written (rejects
   * with the first failure); undefined when none is being written.
   */
  unwritten(layers: readonly LayerRecord[]): Promise<void> | undefined {
    const waits = layers.filter((l): l is PendingLayer => l instanceof PendingLayer).map((l) => l.written);
    return waits.length > 0 ? Promise.all(waits).then(() => undefined) : undefined;
  }

  /**
   * Resolves once every layer in `layers` can be read (its digests known,
   * its blob perhaps not yet durable); undefined when none is pending.
   */
  undigested(layers: readonly LayerRecord[]): Promise<void> | undefined {
    const waits = layers.filter((l): l is PendingLayer => l instanceof PendingLayer).map((l) => l.digested);
    return waits.length > 0 ? Promise.all(waits).then(() => undefined) : undefined;
  }

  /**
   * After the solve (successful or not): waits for every write, publishes
   * the snapshots of those that succeeded and removes the workspaces of
   * those that failed. Rejects with the first failure, once all are done.
   * Layer indexes and the rest of the workspaces follow: see tidied().
   */
  async finish(): Promise<void> {
    this.finishing = true;
    let failure: unknown;
    for (const { layer, ws } of this.pending.splice(0)) {
      try {
        this.tidying.push((await this.publishOrDiscard(layer, ws)).rest);
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }

  // Publishes the layer once written (resolving with what follows, see
  // SnapshotStore.publishLayer), or removes its workspace and rejects.
  private async publishOrDiscard(layer: PendingLayer, ws: Workspace): Promise<{ rest: Promise<void> }> {
    const written = await layer.settle().catch(async (err) => {
      await this.snapshots.discard(ws);
      throw err;
    });
    const { rest } = await this.snapshots.publishLayer(ws, written);
    layer.markPublished();
    return { rest };
  }

  /** Resolves once what finish() left running is done; rejects with its first failure. */
  async tidied(): Promise<void> {
    const all = this.tidying.splice(0);
    const failed = (await Promise.allSettled(all)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
