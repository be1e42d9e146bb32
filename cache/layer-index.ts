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
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { type Digest, hexOf } from './digest.js';

// v2 adds what the snapshot's files were (SnapshotFile) and which
// snapshot dir that was; v1 indexes (written by earlier versions) are still
// read, without that part.
const MAGIC = 'tsbuild-layer-index-v2';
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
 */
export type LayerIndex = Map<string, IndexedFile> & { snapshot?: string };

/** The identity an index records for a snapshot dir (see LayerIndex.snapshot); undefined when it cannot be read. */
export function snapshotIdentity(dir: string): string | undefined {
  const st = lstatSync(dir, { bigint: true, throwIfNoEntry: false });
  return st?.isDirectory() ? `${st.dev}:${st.ino}:${st.ctimeNs}` : undefined;
}

export function layerIndexPath(contentRoot: string, blob: Digest): string {
  return path.join(contentRoot, 'layer-index', hexOf(blob));
}

/**
 * `<magic> <blob> <sha256 of the lines> <snapshot identity or ->\n` then one
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
  const sum = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${blob} ${sum} ${index.snapshot ?? '-'}\n`), body]);
}

/** The index in `data` if it is whole and about `blob`; undefined otherwise. */
export function decodeLayerIndex(blob: Digest, data: Buffer): LayerIndex | undefined {
  const nl = data.indexOf(0x0a);
  if (nl < 0) return undefined;
  const [magic, forBlob, sum, snapshot] = data.subarray(0, nl).toString().split(' ');
  const body = data.subarray(nl + 1);
  const v1 = magic === MAGIC_V1;
  if ((magic !== MAGIC && !v1) || forBlob !== blob || createHash('sha256').update(body).digest('hex') !== sum) return undefined;
  const index: LayerIndex = new Map();
  if (!v1 && snapshot !== undefined && snapshot !== '-') index.snapshot = snapshot;
  try {
    for (const line of body.toString().split('\n')) {
      if (line === '') continue;
      const fields = line.split(' ', v1 ? 3 : 4);
      const [offset, size, sha256] = fields;
      const snap = v1 ? undefined : fields[3]!;
      const quoted = line.slice(fields.join(' ').length + 1);
      // JSON escapes only '"', '\\' and control characters, each with a backslash.
      const rel = quoted.length >= 2 && quoted.startsWith('"') && quoted.endsWith('"') && !quoted.includes('\\') ? quoted.slice(1, -1) : JSON.parse(quoted) as unknown;
      const f: IndexedFile = { offset: Number(offset), size: Number(size), sha256: sha256! };
      if (typeof rel !== 'string' || !Number.isSafeInteger(f.offset) || !Number.isSafeInteger(f.size) || !/^[0-9a-f]{64}$/.test(f.sha256)) return undefined;
      if (snap !== undefined && snap !== '-') {
        const s = decodeSnapshotFile(snap);
        if (!s) return undefined;
        f.snapshot = s;
      }
      index.set(rel, f);
    }
  } catch {
    return undefined;
  }
  return index;
}

function decodeSnapshotFile(text: string): SnapshotFile | undefined {
  const f = text.split(':');
  if (f.length !== 6) return undefined;
  const perm = Number(f[0]), uid = Number(f[1]), gid = Number(f[2]), mtimeMs = Number(f[3]);
  if (!(perm <= 0o7777) || !isCount(perm) || !isCount(uid) || !isCount(gid) || !isCount(Number(f[4])) || !isCount(Number(f[5])) || !Number.isFinite(mtimeMs)) return undefined;
  return { perm, uid, gid, mtimeMs, inode: `${Number(f[4])}:${Number(f[5])}` };
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export async function readLayerIndex(contentRoot: string, blob: Digest): Promise<LayerIndex | undefined> {
  const data = await fsp.readFile(layerIndexPath(contentRoot, blob)).catch(() => undefined);
  return data && decodeLayerIndex(blob, data);
}

/**
 * Publishes the index by rename (a reader sees all of it or none). Not
 * fsynced: after a crash a damaged index fails its checksum and is ignored.
 * Best effort: the build does not need it.
 */
export async function writeLayerIndex(contentRoot: string, tmpDir: string, blob: Digest, index: LayerIndex): Promise<void> {
  const final = layerIndexPath(contentRoot, blob);
  const tmp = path.join(tmpDir, `layer-index-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    await fsp.mkdir(path.dirname(final), { recursive: true });
    await fsp.writeFile(tmp, encodeLayerIndex(blob, index), { mode: 0o644 });
    await fsp.rename(tmp, final);
  } catch {
    await fsp.rm(tmp, { force: true });
  }
}

export async function removeLayerIndex(contentRoot: string, blob: Digest): Promise<void> {
  await fsp.rm(layerIndexPath(contentRoot, blob), { force: true });
}
