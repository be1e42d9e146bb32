// The build cache index: cache key → step result (small JSON). One file
// per key, written to a temp name and renamed, so two tsbuild processes on
// one store never see half an entry, and a crash loses at most the entry
// being written.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class ResultIndex<R> {
  constructor(private readonly dir: string) {}

  private fileOf(key: string): string {
    const hex = key.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`invalid cache key ${key}`);
    return path.join(this.dir, hex.slice(0, 2), hex + '.json');
  }

  async get(key: string): Promise<R | undefined> {
    const file = this.fileOf(key);
    try {
      const value = JSON.parse(await readFile(file, 'utf8')) as R;
      // The file's mtime records the last use, for least-recently-used pruning.
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return value;
    } catch {
      return undefined;
    }
  }

  async put(key: string, result: R): Promise<void> {
    const file = this.fileOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(result));
    await rename(tmp, file);
  }

  async delete(key: string): Promise<void> {
    await rm(this.fileOf(key), { force: true });
  }
}
