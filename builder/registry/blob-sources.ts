// Where blobs came from or went to: `registry/repository` names per blob
// digest, so a push can ask the registry to mount a blob from a repository
// that already has it (no upload at all) instead of sending it again.
// One small JSON file per digest under the image store, written
// atomically but not fsynced; two processes recording the same digest at
// once can lose one name, and so can a power cut, which only costs a later
// mount (this is an optimisation, never a source of truth: the registry
// checks every mount).

import path from 'node:path';
import type { Digest } from '../../cache/digest.js';
import { hexOf } from '../../cache/digest.js';
import { writeTextAtomically } from '../../cache/write-atomic.js';
import { readJsonIfExists } from '../image/fs-util.js';

const MAX_SOURCES = 8;

export class BlobSources {
  constructor(readonly dir: string) {}

  private file(d: Digest): string {
    return path.join(this.dir, `${hexOf(d)}.json`);
  }

  private async read(d: Digest): Promise<string[]> {
    const list = await readJsonIfExists<unknown>(this.file(d)).catch(() => undefined);
    return Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : [];
  }

  async record(d: Digest, registry: string, repository: string): Promise<void> {
    const name = `${registry}/${repository}`;
    const list = await this.read(d);
    if (list[0] === name) return;
    // Most recent first, bounded: the newest source is the likeliest to still exist.
    const next = [name, ...list.filter((s) => s !== name)].slice(0, MAX_SOURCES);
    await writeTextAtomically(this.file(d), JSON.stringify(next));
  }

  /** Repositories on `registry` (other than `except`) known to hold the blob. */
  async repositoriesOn(d: Digest, registry: string, except: string): Promise<string[]> {
    const prefix = `${registry}/`;
    return (await this.read(d)).filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length)).filter((r) => r !== except);
  }
}

/** The memo lives next to the image index: `<root>/images/blob-sources`. */
export function blobSourcesFor(imagesDir: string): BlobSources {
  return new BlobSources(path.join(imagesDir, 'blob-sources'));
}
