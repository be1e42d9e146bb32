// Sizes of snapshot dirs, remembered in `<root>/gc/snapshot-sizes.json`.
// A snapshot never changes once published (it is named by its layer's diff
// id), so its size is walked once; enforcing the size limit after a build
// then costs a readdir, not a walk of every unpacked layer.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { treeBytes } from './gc-scan.js';

export class SnapshotSizes {
  private dirty = false;

  private constructor(private readonly file: string, private readonly sizes: Map<string, number>) {}

  static async load(storeRoot: string): Promise<SnapshotSizes> {
    const file = path.join(storeRoot, 'gc', 'snapshot-sizes.json');
    const sizes = new Map<string, number>();
    try {
      for (const [name, bytes] of Object.entries(JSON.parse(await readFile(file, 'utf8')) as Record<string, number>)) sizes.set(name, bytes);
    } catch {
      // First use, or damaged: sizes are walked again.
    }
    return new SnapshotSizes(file, sizes);
  }

  readonly sizeOf = async (dir: string): Promise<number> => {
    const name = path.basename(dir);
    const known = this.sizes.get(name);
    if (known !== undefined) return known;
    const bytes = await treeBytes(dir);
    this.sizes.set(name, bytes);
    this.dirty = true;
    return bytes;
  };

  forget(dir: string): void {
    if (this.sizes.delete(path.basename(dir))) this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(this.sizes)));
    await rename(tmp, this.file);
    this.dirty = false;
  }
}
