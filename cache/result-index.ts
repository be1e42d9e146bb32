// The build cache index: cache key → step result (small JSON). One file
// per key, written to a temp name and renamed, so two tsbuild processes on
// one store never see half an entry, and a crash loses at most the entry
// being written.
//
// Entries read or written by this process stay in an in-memory LRU: a
// later lookup of the same key (another solve in the same process: several
// targets, --call modes, tests) costs no file read and no second mtime
// touch. An entry is never removed behind a live process's back: prune
// waits for builds to release their lease (cache/gc-lease.ts).
import { LruMap } from './lru-map.js';
import { stampDirectory } from './version-stamp.js';
import { randomBytes } from '../runner-native/native-crypto.js';
import { mkdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';

// Results are small (a layer list): a few thousand cost well under a megabyte.
const HOT_ENTRIES = 4096;

/** Where the entry of `key` lives under the index's directory: `<2 hex>/<hex>.json`. */
export function resultEntryPath(dir: string, key: string): string {
  const hex = key.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`invalid cache key ${key}`);
  return path.join(dir, hex.slice(0, 2), hex + '.json');
}

export class ResultIndex<R extends object> {
  private readonly hot = new LruMap<string, R>(HOT_ENTRIES);

  constructor(private readonly dir: string) {}

  private fileOf(key: string): string {
    return resultEntryPath(this.dir, key);
  }

  async get(key: string): Promise<R | undefined> {
    const known = this.hot.get(key);
    if (known !== undefined) return known;
    const file = this.fileOf(key);
    // Synchronous: a small file (or none: a miss), where a threadpool round
    // trip per step would sit on the build's critical path and let the
    // layer writes running in the background go first.
    try {
      const value = JSON.parse(readFileSync(file, 'utf8')) as R;
      // The file's mtime records the last use, for least-recently-used pruning.
      const now = new Date();
      try {
        utimesSync(file, now, now);
      } catch {
        // Removed meanwhile (a prune): the entry read is still whole.
      }
      this.hot.set(key, value);
      return value;
    } catch {
      return undefined;
    }
  }

  // Synchronous as get(): a small file, where three threadpool round
  // trips queued behind the build's fsyncs before it could end.
  async put(key: string, result: R): Promise<void> {
    const file = this.fileOf(key);
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(result));
    renameSync(tmp, file);
    // The build memo tells this version of the directory from the next by
    // its time, without waiting a tick (version-stamp.ts).
    stampDirectory(path.dirname(file));
    this.hot.set(key, result);
  }

  async delete(key: string): Promise<void> {
    this.hot.delete(key);
    await rm(this.fileOf(key), { force: true });
  }
}
