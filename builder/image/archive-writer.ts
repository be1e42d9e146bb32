// Deterministic tar output for exporters: entries sorted by name, parent
// directories added, fixed mtime, uid/gid 0, fixed modes. The same image
// always gives the same archive bytes.

import { createWriteStream, promises as fs } from 'node:fs';
import type { Writable } from 'node:stream';
import { TarWriter } from '../../cache/tar-writer.js';
import { tempPathFor } from './fs-util.js';

export type ArchiveEntry =
  | { name: string; data: Buffer }
  | { name: string; size: number; open: () => NodeJS.ReadableStream | AsyncIterable<Buffer> };

export interface TarWriteOptions {
  /** Seconds since the epoch for every entry; default 0. */
  mtime?: number;
}

function withParents(entries: ArchiveEntry[]): { dirs: string[]; files: ArchiveEntry[] } {
  const dirs = new Set<string>();
  const files = new Map<string, ArchiveEntry>();
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name.split('/').includes('..')) throw new Error(`archive entry name not relative: ${e.name}`);
    files.set(e.name, e); // a later duplicate (same blob twice) replaces the earlier one
    const parts = e.name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/') + '/');
  }
  return { dirs: [...dirs], files: [...files.values()] };
}

/** Write the archive to `out`, and end it. */
export async function writeTar(out: Writable | NodeJS.WritableStream, entries: ArchiveEntry[], opts: TarWriteOptions = {}): Promise<void> {
  const mtime = opts.mtime ?? 0;
  const { dirs, files } = withParents(entries);
  const ordered: Array<{ name: string; entry?: ArchiveEntry }> = [...dirs.map((name) => ({ name })), ...files.map((entry) => ({ name: entry.name, entry }))];
  ordered.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const writer = new TarWriter(out as Writable, 'archive');
  try {
    for (const { name, entry } of ordered) {
      if (!entry) await writer.add({ name, type: 'dir', mode: 0o755, mtime });
      else if ('data' in entry) await writer.add({ name, type: 'file', mode: 0o644, mtime, size: entry.data.length }, entry.data);
      else await writer.add({ name, type: 'file', mode: 0o644, mtime, size: entry.size }, entry.open() as AsyncIterable<Buffer>);
    }
    await writer.finish();
  } catch (e) {
    (out as Writable).destroy?.(e as Error);
    throw e;
  }
}

/** Write the archive to a file atomically (temp + fsync + rename). */
export async function writeTarFile(dest: string, entries: ArchiveEntry[], opts: TarWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(dest);
  try {
    await writeTar(createWriteStream(tmp, { mode: 0o644 }), entries, opts);
    const fh = await fs.open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, dest);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
