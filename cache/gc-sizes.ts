// Sizes of snapshot dirs and blobs, remembered in `<root>/gc/sizes.json`.
// Both are named by their content (a snapshot by its layer's diff id, a
// blob by its digest), so their size never changes: each is measured once,
// and the size limit after a build costs two readdirs, not a walk of every
// unpacked layer and a stat of every blob. Only a cache: lost or damaged,
// sizes are measured again.
import { randomBytes } from '../runner-native/native-crypto.js';
import { statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { treeBytes } from './gc-scan.js';

interface SizesFile {
  snapshots?: Record<string, number>;
  blobs?: Record<string, number>;
}

export class StoreSizes {
  private dirty = false;

  private constructor(
    private readonly dir: string,
    private readonly snapshots: Map<string, number>,
    private readonly blobs: Map<string, number>,
  ) {}

  static async load(storeRoot: string): Promise<StoreSizes> {
    const dir = path.join(storeRoot, 'gc');
    let saved: SizesFile = {};
    try {
      saved = JSON.parse(await readFile(path.join(dir, 'sizes.json'), 'utf8')) as SizesFile;
    } catch {
      // First use, or damaged: sizes are measured again. A store from
      // before blobs were remembered has its snapshot sizes in the old file.
      const old = await readFile(path.join(dir, 'snapshot-sizes.json'), 'utf8').catch(() => undefined);
      try {
        if (old !== undefined) saved = { snapshots: JSON.parse(old) as Record<string, number> };
      } catch {
        // Damaged too.
      }
    }
    return new StoreSizes(dir, numbersOf(saved.snapshots), numbersOf(saved.blobs));
  }

  /** Bytes of a snapshot dir (walked the first time). */
  readonly sizeOf = async (dir: string): Promise<number> => {
    const name = path.basename(dir);
    const known = this.snapshots.get(name);
    if (known !== undefined) return known;
    const bytes = await treeBytes(dir);
    this.snapshots.set(name, bytes);
    this.dirty = true;
    return bytes;
  };

  forget(dir: string): void {
    if (this.snapshots.delete(path.basename(dir))) this.dirty = true;
  }

  /** Bytes of a blob file (its length, stat'ed the first time); undefined when it is gone. */
  blobBytes(digest: string, file: string): number | undefined {
    const known = this.blobs.get(digest);
    if (known !== undefined) return known;
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) return undefined;
    this.blobs.set(digest, st.size);
    this.dirty = true;
    return st.size;
  }

  /** Forgets what is no longer there, given everything that is. */
  keepOnly(snapshotNames: ReadonlySet<string>, blobDigests: ReadonlySet<string>): void {
    for (const [map, present] of [[this.snapshots, snapshotNames], [this.blobs, blobDigests]] as const) {
      for (const name of map.keys()) {
        if (present.has(name)) continue;
        map.delete(name);
        this.dirty = true;
      }
    }
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, 'sizes.json');
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const data: SizesFile = { snapshots: Object.fromEntries(this.snapshots), blobs: Object.fromEntries(this.blobs) };
    await writeFile(tmp, JSON.stringify(data));
    await rename(tmp, file);
    await rm(path.join(this.dir, 'snapshot-sizes.json'), { force: true });
    this.dirty = false;
  }
}

function numbersOf(record: Record<string, number> | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, bytes] of Object.entries(record ?? {})) if (typeof bytes === 'number' && bytes >= 0) out.set(name, bytes);
  return out;
}
