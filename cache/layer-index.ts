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
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { type Digest, hexOf } from './digest.js';

const MAGIC = 'tsbuild-layer-index-v1';

export interface IndexedFile {
  /** Offset of the file's data in the layer tar. */
  offset: number;
  size: number;
  /** sha256 (hex) of the file's bytes. */
  sha256: string;
}

/** Path inside the layer (no leading '/') → its data. */
export type LayerIndex = Map<string, IndexedFile>;

export function layerIndexPath(contentRoot: string, blob: Digest): string {
  return path.join(contentRoot, 'layer-index', hexOf(blob));
}

/**
 * `<magic> <blob> <sha256 of the lines>\n` then one line per file:
 * `offset size sha256 "json path"`. The path is last and quoted, so
 * any name (spaces, newlines) stays one field.
 */
export function encodeLayerIndex(blob: Digest, index: LayerIndex): Buffer {
  const lines: string[] = [];
  for (const [rel, f] of index) lines.push(`${f.offset} ${f.size} ${f.sha256} ${JSON.stringify(rel)}\n`);
  const body = Buffer.from(lines.join(''));
  const sum = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${blob} ${sum}\n`), body]);
}

/** The index in `data` if it is whole and about `blob`; undefined otherwise. */
export function decodeLayerIndex(blob: Digest, data: Buffer): LayerIndex | undefined {
  const nl = data.indexOf(0x0a);
  if (nl < 0) return undefined;
  const [magic, forBlob, sum] = data.subarray(0, nl).toString().split(' ');
  const body = data.subarray(nl + 1);
  if (magic !== MAGIC || forBlob !== blob || createHash('sha256').update(body).digest('hex') !== sum) return undefined;
  const index: LayerIndex = new Map();
  try {
    for (const line of body.toString().split('\n')) {
      if (line === '') continue;
      const [offset, size, sha256] = line.split(' ', 3);
      const rel = JSON.parse(line.slice(offset!.length + size!.length + sha256!.length + 3)) as unknown;
      const f = { offset: Number(offset), size: Number(size), sha256: sha256! };
      if (typeof rel !== 'string' || !Number.isSafeInteger(f.offset) || !Number.isSafeInteger(f.size) || !/^[0-9a-f]{64}$/.test(f.sha256)) return undefined;
      index.set(rel, f);
    }
  } catch {
    return undefined;
  }
  return index;
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
