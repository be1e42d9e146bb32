// A re-run COPY's new layer is mostly its previous layer. Each file the
// step hard-linked from the previous snapshot, with the same path, the same
// metadata and so the same bytes, is an entry (header, data, padding) the
// previous blob already holds byte for byte; and such entries follow one
// another there in the same order, as both tars are sorted by path. Rather
// than encoding each header again and reading each file's data, runs of
// them are copied out of the previous blob whole, a megabyte per read
// (5,000 linked files: ~50 runs, one per directory).
//
// Byte for byte holds because an entry is its header's inputs, encoded by
// the same function, and the index records those inputs of each file
// (IndexedFile.snapshot) and the SOURCE_DATE_EPOCH the mtimes were clamped
// to: equal inputs, equal bytes. The data is the file's own, as the file
// is the one the previous snapshot holds at that path.
import { readRange } from './blob-window.js';
import type { IndexedFile, LayerIndex } from './layer-index.js';
import type { EntryStat } from './layer-walk.js';
import { BLOCK, fileHeaderFitsOneBlock, padLength } from './tar-format.js';
import type { TarWriter } from './tar-writer.js';
import type { Xattrs } from './xattrs.js';

export class PreviousEntries {
  /** The run of previous entries waiting to be copied: its start and length in the previous blob. */
  private from = 0;
  private length = 0;

  /**
   * Undefined when the previous layer's entries cannot be taken whole: its
   * index does not say how its mtimes were clamped (written by an earlier
   * version), or says another SOURCE_DATE_EPOCH than this layer's.
   */
  static open(index: LayerIndex, linked: ReadonlyMap<string, string>, blobFd: number, writer: TarWriter, sourceDateEpoch: number | undefined): PreviousEntries | undefined {
    if (index.sourceDateEpoch === undefined || index.sourceDateEpoch !== (sourceDateEpoch ?? null)) return undefined;
    return new PreviousEntries(index, linked, blobFd, writer);
  }

  private constructor(
    private readonly index: LayerIndex,
    private readonly linked: ReadonlyMap<string, string>,
    private readonly blobFd: number,
    private readonly writer: TarWriter,
  ) {}

  /**
   * The previous layer's entry for the regular file `rel` (lstat `st`,
   * `dev:ino` inode, xattrs attrs, header mtime `mtime`), when it is byte
   * for byte the entry this layer needs: the file is the previous
   * snapshot's own (the copier linked that very inode), it has no xattrs,
   * and its header is one ustar block made of the inputs recorded then.
   */
  entryFor(rel: string, inode: string | undefined, st: EntryStat, attrs: Xattrs | undefined, mtime: number): IndexedFile | undefined {
    if (inode === undefined || this.linked.get(rel) !== inode || (attrs !== undefined && attrs.size > 0)) return undefined;
    const known = this.index.get(rel);
    const was = known?.snapshot;
    if (!known || !was || known.size !== st.size || known.offset < BLOCK || known.offset % BLOCK !== 0) return undefined;
    if (was.perm !== (st.mode & 0o7777) || was.uid !== st.uid || was.gid !== st.gid || was.mtimeMs !== st.mtimeMs) return undefined;
    return fileHeaderFitsOneBlock(rel, st.uid, st.gid, st.size, mtime) ? known : undefined;
  }

  /** Whether entries are waiting to be copied. */
  get pending(): boolean {
    return this.length > 0;
  }

  /**
   * Whether `entry` (from entryFor) may join the waiting run, or none
   * waits: then take() needs no flush() first. It may when it follows the
   * run in the previous blob and the run is short enough to be copied in
   * one go without keeping the event loop waiting long (layer-diff.ts
   * gives it a turn between entries).
   */
  continues(entry: IndexedFile): boolean {
    return this.length === 0 || (this.from + this.length === entry.offset - BLOCK && this.length < MAX_RUN);
  }

  /** Adds the entry to the waiting run (see continues); returns where its data will sit in the new tar. */
  take(entry: IndexedFile): number {
    if (this.length === 0) this.from = entry.offset - BLOCK;
    const dataAt = this.writer.position + this.length + BLOCK;
    this.length += BLOCK + entry.size + padLength(entry.size);
    return dataAt;
  }

  /** Copies the waiting run into the new tar. */
  async flush(): Promise<void> {
    if (this.length === 0) return;
    let at = this.from;
    const length = this.length;
    this.length = 0;
    await this.writer.addEncoded(length, (buf, offset, want) => {
      const got = readRange(this.blobFd, at, buf, offset, want);
      at += got;
      return got;
    });
  }
}

/** Bytes copied in one flush at most (a few ms), unless one entry is bigger. */
const MAX_RUN = 4 << 20;
