// Where each regular file's bytes sit in a stored (uncompressed) layer tar,
// and their sha256: what any snapshot of that layer holds at that path.
// Written next to a COPY step's layer blob, it lets the step's next run
//  - tell an unchanged source file from the digest the context checksum
//    already knows, without reading the file or the snapshot's copy
//    (builder/fileops/file-reuse.ts), and
//  - take the data of the files it linked from that snapshot out of the
//    previous blob with one read each, instead of opening every file again
//    (cache/layer-diff.ts).
// It is only ever a shortcut: a missing, stale or damaged index (its own
// checksum is checked) means the files are read as without it, and the
// layer's bytes never depend on it (data is taken from the previous blob
// only for a file that is the previous snapshot's own, hard-linked).
import { createHash, randomBytes } from '../runner-native/native-crypto.js';
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { type Digest, hexOf } from './digest.js';

// v2 adds what the snapshot's files were (SnapshotFile) and which
// snapshot dir that was; v3 what the mtimes were clamped to (its checksum
// covers that too). Indexes written by earlier versions are still read,
// without what they lack.
const MAGIC = 'tsbuild-layer-index-v3';
const MAGIC_V2 = 'tsbuild-layer-index-v2';
const MAGIC_V1 = 'tsbuild-layer-index-v1';

/**
 * What the layer's snapshot dir held at the path when the layer was made:
 * enough for a re-run to decide a link without an lstat of the snapshot.
 * (No xattrs: a file with any is indexed without it.)
 */
export interface SnapshotFile {
  /** Permission bits (mode & 0o7777). */
  perm: number;
  uid: number;
  gid: number;
  /** mtime in ms, as lstat gives it (fractional: sub-ms digits kept). */
  mtimeMs: number;
  /** `dev:ino` of the snapshot's file. */
  inode: string;
}

export interface IndexedFile {
  /** Offset of the file's data in the layer tar. */
  offset: number;
  size: number;
  /** sha256 (hex) of the file's bytes. */
  sha256: string;
  /** Only meaningful while the layer's snapshot dir is the one LayerIndex.snapshot names. */
  snapshot?: SnapshotFile;
}

/**
 * Path inside the layer (no leading '/') → its data. `snapshot`: the
 * identity (`dev:ino:ctimeNs`) of the snapshot dir the files' `snapshot`
 * parts describe; a snapshot dir made again (after a prune, or by another
 * build) has another, and then those parts say nothing.
 * `sourceDateEpoch`: what the layer's header mtimes were clamped to, null
 * for nothing; undefined when not known (an index written before this was
 * recorded). With it, a file's `snapshot` part is also what its header was
 * made of (cache/previous-entries.ts).
 */
export type LayerIndex = Map<string, IndexedFile> & { snapshot?: string; sourceDateEpoch?: number | null };

/** The identity an index records for a snapshot dir (see LayerIndex.snapshot); undefined when it cannot be read. */
export function snapshotIdentity(dir: string): string | undefined {
  const st = lstatSync(dir, { bigint: true, throwIfNoEntry: false });
  return st?.isDirectory() ? `${st.dev}:${st.ino}:${st.ctimeNs}` : undefined;
}

export function layerIndexPath(contentRoot: string, blob: Digest): string {
  return path.join(contentRoot, 'layer-index', hexOf(blob));
}

/**
 * `<magic> <blob> <sum> <snapshot identity or -> <clamp>\n`, where clamp is
 * the SOURCE_DATE_EPOCH, `-` for none or `?` when not known and sum the
 * sha256 of `<clamp>\n` and the lines (v1 and v2: of the lines; v1 has no
 * snapshot field), then one
 * line per file: `offset size sha256 perm:uid:gid:mtimeMs:dev:ino "json path"`
 * (`-` for the snapshot part when unknown). The path is last and quoted,
 * so any name (spaces, newlines) stays one field.
 */
export function encodeLayerIndex(blob: Digest, index: LayerIndex): Buffer {
  const lines: string[] = [];
  for (const [rel, f] of index) {
    const s = f.snapshot;
    const snap = s ? `${s.perm}:${s.uid}:${s.gid}:${s.mtimeMs}:${s.inode}` : '-';
    lines.push(`${f.offset} ${f.size} ${f.sha256} ${snap} ${JSON.stringify(rel)}\n`);
  }
  const body = Buffer.from(lines.join(''));
  const clamp = index.sourceDateEpoch === undefined ? '?' : index.sourceDateEpoch === null ? '-' : String(index.sourceDateEpoch);
  const sum = createHash('sha256').update(`${clamp}\n`).update(body).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${blob} ${sum} ${index.snapshot ?? '-'} ${clamp}\n`), body]);
}

/** The index in `data` if it is whole and about `blob`; undefined otherwise. */
export function decodeLayerIndex(blob: Digest, data: Buffer): LayerIndex | undefined {
  const nl = data.indexOf(0x0a);
  if (nl < 0) return undefined;
  const [magic, forBlob, sum, snapshot, clamp] = data.subarray(0, nl).toString().split(' ');
  const body = data.subarray(nl + 1);
  const v1 = magic === MAGIC_V1;
  const v3 = magic === MAGIC;
  if ((!v3 && magic !== MAGIC_V2 && !v1) || forBlob !== blob) return undefined;
  const hash = createHash('sha256');
  if (v3) hash.update(`${clamp}\n`);
  if (hash.update(body).digest('hex') !== sum) return undefined;
  const index: LayerIndex = new Map();
  if (!v1 && snapshot !== undefined && snapshot !== '-') index.snapshot = snapshot;
  if (v3 && clamp !== '?') {
    if (clamp === '-') index.sourceDateEpoch = null;
    else if (clamp !== undefined && /^\d{1,15}$/.test(clamp)) index.sourceDateEpoch = Number(clamp);
    else return undefined;
  }
  // A re-run COPY reads its previous layer's index before it links any
  // file: the lines are scanned in place, where a split and a regular
  // expression per line cost 10-20 ms for 5,000 files.
  const scan = new LineScanner(body);
  try {
    while (!scan.done()) {
      const offset = scan.count(SPACE);
      const size = scan.count(SPACE);
      const f: IndexedFile = { offset, size, sha256: scan.hex() };
      if (!v1) {
        if (scan.dash()) scan.expect(SPACE);
        else f.snapshot = scan.snapshotFile();
      }
      index.set(scan.quotedName(), f);
    }
  } catch (err) {
    if (err instanceof MalformedIndex || err instanceof SyntaxError) return undefined;
    throw err;
  }
  return index;
}

const SPACE = 0x20;
const COLON = 0x3a;
const QUOTE = 0x22;

class MalformedIndex extends Error {}

/**
 * Reads the fields of an index's lines in order, from the body decoded
 * once (a name is a slice of it); throws MalformedIndex at anything
 * unexpected.
 */
class LineScanner {
  private at = 0;
  private readonly text: string;

  constructor(data: Buffer) {
    this.text = data.toString('utf8');
  }

  done(): boolean {
    return this.at >= this.text.length;
  }

  /** Takes a '-' (a snapshot part left out) if one is next. */
  dash(): boolean {
    if (this.text.charCodeAt(this.at) !== 0x2d) return false;
    this.at++;
    return true;
  }

  expect(code: number): void {
    if (this.text.charCodeAt(this.at++) !== code) throw new MalformedIndex();
  }

  /** A decimal count (digits only, below 2^53), then `end`. */
  count(end: number): number {
    const t = this.text;
    const start = this.at;
    let n = 0;
    for (let c = t.charCodeAt(this.at); c >= 0x30 && c <= 0x39; c = t.charCodeAt(++this.at)) n = n * 10 + (c - 0x30);
    if (this.at === start || this.at - start > 16 || !Number.isSafeInteger(n)) throw new MalformedIndex();
    this.expect(end);
    return n;
  }

  /** A sha256: 64 lowercase hex digits, then a space. */
  hex(): string {
    const t = this.text;
    const start = this.at;
    for (const end = start + 64; this.at < end; this.at++) {
      const c = t.charCodeAt(this.at);
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) throw new MalformedIndex();
    }
    this.expect(SPACE);
    return t.slice(start, start + 64);
  }

  /** `perm:uid:gid:mtimeMs:dev:ino `. */
  snapshotFile(): SnapshotFile {
    const perm = this.count(COLON);
    const uid = this.count(COLON);
    const gid = this.count(COLON);
    const start = this.at;
    const colon = this.text.indexOf(':', start);
    if (colon <= start) throw new MalformedIndex();
    // Written as a double's shortest form: Number gives that double back.
    const mtimeMs = Number(this.text.slice(start, colon));
    this.at = colon + 1;
    const dev = this.count(COLON);
    const ino = this.count(SPACE);
    if (perm > 0o7777 || !Number.isFinite(mtimeMs)) throw new MalformedIndex();
    return { perm, uid, gid, mtimeMs, inode: `${dev}:${ino}` };
  }

  /** The JSON-quoted name that ends the line, and the newline. */
  quotedName(): string {
    const t = this.text;
    const start = this.at;
    const end = t.indexOf('\n', start);
    if (end - start < 2 || t.charCodeAt(start) !== QUOTE || t.charCodeAt(end - 1) !== QUOTE) throw new MalformedIndex();
    this.at = end + 1;
    const quoted = t.slice(start, end);
    // JSON escapes only '"', '\\' and control characters (so a name holds
    // no raw newline), each with a backslash.
    if (!quoted.includes('\\')) return quoted.slice(1, -1);
    const name = JSON.parse(quoted) as unknown;
    if (typeof name !== 'string') throw new MalformedIndex();
    return name;
  }
}

// Synchronous, as checksum-cache.ts reads its table: the COPY that asks
// waits for it, and an async read's four threadpool round trips queued
// behind the build's other work (its decode is on this thread either way).
export async function readLayerIndex(contentRoot: string, blob: Digest): Promise<LayerIndex | undefined> {
  let data: Buffer;
  try {
    data = readFileSync(layerIndexPath(contentRoot, blob));
  } catch {
    return undefined;
  }
  return decodeLayerIndex(blob, data);
}

/**
 * Publishes the index by rename (a reader sees all of it or none). Not
 * fsynced: after a crash a damaged index fails its checksum and is ignored.
 * Best effort: the build does not need it. By synchronous calls (the
 * bytes go to the page cache): the build's end waits for the index, and
 * its three threadpool round trips queued behind the layers' fsyncs, ~2 ms
 * before a one-file rebuild's last line.
 */
export async function writeLayerIndex(contentRoot: string, tmpDir: string, blob: Digest, index: LayerIndex): Promise<void> {
  const final = layerIndexPath(contentRoot, blob);
  const tmp = path.join(tmpDir, `layer-index-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(path.dirname(final), { recursive: true });
    writeFileSync(tmp, encodeLayerIndex(blob, index), { mode: 0o644 });
    renameSync(tmp, final);
  } catch {
    rmSync(tmp, { force: true });
  }
}

export async function removeLayerIndex(contentRoot: string, blob: Digest): Promise<void> {
  await fsp.rm(layerIndexPath(contentRoot, blob), { force: true });
}
