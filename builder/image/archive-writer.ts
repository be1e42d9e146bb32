// Deterministic tar output for exporters: entries sorted by name, parent
// directories added, fixed mtime, uid/gid 0, fixed modes. The same image
// always gives the same archive bytes.

import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
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

async function addStreamEntry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, src: NodeJS.ReadableStream | AsyncIterable<Buffer>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    (async () => {
      for await (const chunk of src as AsyncIterable<Buffer>) {
        if (!sink.write(chunk)) await once(sink, 'drain');
      }
      sink.end(undefined);
    })().catch((err: unknown) => {
      sink.destroy(err as Error);
      reject(err);
    });
  });
}

/** Write the archive to `out` (not closed on error by us; pipeline does). */
export async function writeTar(out: Writable | NodeJS.WritableStream, entries: ArchiveEntry[], opts: TarWriteOptions = {}): Promise<void> {
  const mtime = new Date((opts.mtime ?? 0) * 1000);
  const { dirs, files } = withParents(entries);
  const ordered: Array<{ name: string; entry?: ArchiveEntry }> = [...dirs.map((name) => ({ name })), ...files.map((entry) => ({ name: entry.name, entry }))];
  ordered.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const pack = tar.pack();
  const base = { mtime, uid: 0, gid: 0, uname: '', gname: '' };
  const producing = (async () => {
    try {
      for (const { name, entry } of ordered) {
        if (!entry) {
          pack.entry({ ...base, name, type: 'directory', mode: 0o755 });
        } else if ('data' in entry) {
          pack.entry({ ...base, name, type: 'file', mode: 0o644, size: entry.data.length }, entry.data);
        } else {
          await addStreamEntry(pack, { ...base, name, type: 'file', mode: 0o644, size: entry.size }, entry.open());
        }
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
      throw e;
    }
  })();
  await Promise.all([pipeline(pack, out as Writable), producing]);
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
