// The client's half of the context sync: the context directory seen
// through its ignore rules, as a manifest of paths, metadata and content
// digests, and the manifest's digest. What the previous build saw is
// remembered (context-snapshot.ts): an unchanged context costs one lstat
// per entry and nothing else, and its manifest is only built if the server
// asks for it; a changed context is walked again, and a changed file costs
// its own hash.
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { BuildContext, ContextWalkEntry, EntryType } from '../context/context.js';
import type { ContentHashCache } from '../context/checksum.js';
import { sortNames } from '../fileops/source-tree.js';
import { ignoreFileCandidates } from '../patterns/dockerignore.js';
import { digestOfLines, manifestDigest, sameEntry } from './manifest-digest.js';
import { rowOf, statAround, type AroundStat, type SnapshotRow } from './context-snapshot.js';
import { startContextCheck, type ContextCheck } from './context-check.js';
import { contextIdOf } from './context-ids.js';
import { withV8Flag } from '../../cache/v8-flags.js';

export { contextIdOf, startContextCheck, type ContextCheck };
import type { ManifestDelta, ManifestEntry } from './protocol.js';

export interface ContextManifest {
  contextId: string;
  digest: string;
  /** Files in the context (the count the progress line shows). */
  files: number;
  /** Every entry was as the previous build saw it: nothing was hashed or built. */
  unchanged: boolean;
  /** The entries, built on first use: a server that knows the digest never needs them. */
  entries(): ManifestEntry[];
  /** digest → host path of one file with that content, for the upload. */
  sources(): Map<string, { path: string; size: number }>;
  /** How this manifest differs from the one the previous build sent, when there was one. */
  delta(): ManifestDelta | undefined;
}


const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const TYPES: Record<number, ManifestEntry['type']> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink' };
const TYPE_BITS: Partial<Record<EntryType, number>> = { file: 0o100000, dir: 0o040000, symlink: 0o120000 };

/** `hashes`: digests already known by stat identity (a local build's checksum table), read instead of the file. */
export async function buildManifest(contextDir: string, dockerfilePath: string | undefined, check = startContextCheck(contextDir, dockerfilePath), hashes?: ContentHashCache): Promise<ContextManifest> {
  const { root, snapshot } = check;
  const contextId = contextIdOf(root);
  if ((await check.native) ?? (await unoptimized(snapshot.size, async () => snapshot.unchangedOnDisk()))) {
    // Nothing changed since the last build: not even a directory is read.
    return manifestOf(contextId, root, snapshot.digest, snapshot.files, true, () => Array.from({ length: snapshot.size }, (_, i) => snapshot.rowAt(i)));
  }
  // Taken before anything is read: a change made while the walk runs shows at the next build.
  const around = statContextAround(root, dockerfilePath);
  // The walk's code is loaded only when a walk is needed.
  const [{ BuildContext }, { fileDigest }] = await Promise.all([import('../context/context.js'), import('../context/checksum.js')]);
  const context = await BuildContext.open(root, { dockerfilePath });
  // While every entry matches the snapshot's row at its position nothing is
  // kept; at the first difference the rows so far are copied from it.
  let same = 0;
  let rows: SnapshotRow[] | undefined;
  const misses: { row: SnapshotRow; host: string; st: Stats }[] = [];
  let files = 0;
  await unoptimized(snapshot.size, () => walk(context, (rel, host, st) => {
    // Devices, fifos and sockets are not sent (BuildKit's file sync skips them too).
    const type = TYPES[st.mode & S_IFMT];
    if (type === undefined) return;
    if (type === 'file') files++;
    if (!rows) {
      if (snapshot.matches(same, rel, st)) {
        same++;
        return;
      }
      rows = Array.from({ length: same }, (_, i) => snapshot.rowAt(i));
    }
    const known = snapshot.indexOf(rel);
    if (known !== undefined && snapshot.matches(known, rel, st)) return void rows.push(snapshot.rowAt(known));
    const row = rowOf(rel, st);
    if (type === 'symlink') row.link = readlinkSync(host);
    if (type === 'file') misses.push({ row, host, st });
    rows.push(row);
  }));
  if (!rows && same === snapshot.size && snapshot.settled && snapshot.digest !== '') {
    // Nothing changed, but a directory or an ignore file was touched, or too
    // recently to trust its time: remembered as it is now for the next build.
    const kept = Array.from({ length: same }, (_, i) => snapshot.rowAt(i));
    snapshot.save(kept, snapshot.digest, around);
    return manifestOf(contextId, context.root, snapshot.digest, files, true, () => kept);
  }
  const all = rows ?? Array.from({ length: same }, (_, i) => snapshot.rowAt(i));
  // Files the snapshot does not know are read, a few at a time.
  let next = 0;
  const worker = async () => {
    while (next < misses.length) {
      const m = misses[next++]!;
      m.row.digest = await fileDigest(m.host, m.st, hashes);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, misses.length) }, worker));
  const entries = all.map(entryOf);
  const digest = manifestDigest(entries);
  // Read before save(): the snapshot in memory is still the previous build's.
  const base = snapshot.digest === '' ? undefined : { digest: snapshot.digest, rows: Array.from({ length: snapshot.size }, (_, i) => snapshot.rowAt(i)) };
  snapshot.save(all, digest, around);
  const manifest = manifestOf(contextId, context.root, digest, files, false, () => all, entries);
  manifest.delta = () => (base ? deltaOf(base.digest, base.rows.map(entryOf), entries) : undefined);
  return manifest;
}

/** The stats of what a walk of the context reads besides its entries, taken before it starts. */
export function statContextAround(root: string, dockerfilePath: string | undefined): AroundStat[] {
  return statAround([root, ...ignoreFileCandidates(root, dockerfilePath)]);
}

/**
 * The snapshot rows of a walk made elsewhere (a local build's checksum
 * walk of the whole context, context/checksum.ts: its root first), with
 * the digests that walk needed; manifestOfRows() finds the others.
 */
export function rowsOfWalk(walked: readonly ContextWalkEntry[]): SnapshotRow[] {
  const rows: SnapshotRow[] = [];
  // The first entry is the context's root itself: stated in `around`.
  for (let i = 1; i < walked.length; i++) {
    const e = walked[i]!;
    const bits = TYPE_BITS[e.type];
    if (bits === undefined) continue;
    const row: SnapshotRow = { name: e.inRoot.slice(1), mode: bits | e.mode, size: e.size, mtimeMs: e.mtimeMs, ctimeMs: e.ctimeMs, ino: e.ino, dev: e.dev };
    if (e.type === 'symlink') row.link = e.link;
    if (e.type === 'file' && e.digest !== '') row.digest = e.digest;
    rows.push(row);
  }
  return rows;
}

/**
 * The digest of the context those rows describe, saved as its snapshot:
 * `check` was opened and `around` stated before the walk that made them
 * began (their time is the snapshot's horizon). A file's digest the walk
 * did not need is taken from the snapshot (a row it holds unchanged),
 * then from `hashes` by stat identity, then from the file itself.
 */
export async function manifestOfRows(check: ContextCheck, around: AroundStat[], rows: SnapshotRow[], hashes: () => Promise<ContentHashCache>): Promise<string> {
  const { root, snapshot } = check;
  const misses: SnapshotRow[] = [];
  for (const [i, row] of rows.entries()) {
    if (row.digest !== undefined || (row.mode & S_IFMT) !== S_IFREG) continue;
    // The row at the same position first: an unchanged context is walked in the snapshot's order.
    const known = snapshot.matches(i, row.name, row) ? i : snapshot.indexOf(row.name);
    if (known !== undefined && snapshot.matches(known, row.name, row)) row.digest = snapshot.digestAt(known);
    else misses.push(row);
  }
  if (misses.length > 0) {
    const table = await hashes();
    const prefix = root === '/' ? '/' : `${root}/`;
    // Looked up synchronously, the rest read: a promise per file cost a big context's peak memory.
    const unknown = misses.filter((row) => (row.digest = table.get(prefix + row.name, row)) === undefined);
    if (unknown.length > 0) {
      const { fileDigest } = await import('../context/checksum.js');
      for (const row of unknown) row.digest = await fileDigest(prefix + row.name, row, table);
    }
  }
  // Line by line, no entry made: a 50,000-row context's entries all at once cost megabytes for a moment.
  const digest = digestOfLines(rows, rowLine);
  snapshot.save(rows, digest, around);
  return digest;
}

// The check and the walk in JavaScript run once per process, their hot
// loop an lstat per entry: V8's optimizing compiler would spend more CPU
// compiling it than it saves (about 15 ms of a 5,000-file context here).
// Only around them: the rest of the client gains from it, and the
// launcher saves its code cache from a process whose flags are restored
// (V8 accepts a cache only from a process with the same flags). Only for
// a context big enough to gain (`entries`: the previous build's count, the
// best guess before a walk): loading node:v8 costs a small build about 1 ms
// more than the compiler would.
const UNOPTIMIZED_FROM = 1000;

function unoptimized<T>(entries: number, f: () => Promise<T>): Promise<T> {
  return entries < UNOPTIMIZED_FROM ? f() : withV8Flag('--no-opt', '--opt', f);
}

function manifestOf(contextId: string, root: string, digest: string, files: number, unchanged: boolean, rows: () => SnapshotRow[], built?: ManifestEntry[]): ContextManifest {
  let entries = built;
  let sources: Map<string, { path: string; size: number }> | undefined;
  return {
    contextId,
    digest,
    files,
    unchanged,
    entries: () => (entries ??= rows().map(entryOf)),
    delta: () => undefined,
    sources: () => {
      if (!sources) {
        sources = new Map();
        for (const r of rows()) if (r.digest && !sources.has(r.digest)) sources.set(r.digest, { path: path.join(root, r.name), size: r.size });
      }
      return sources;
    },
  };
}

function deltaOf(base: string, before: ManifestEntry[], after: ManifestEntry[]): ManifestDelta {
  const old = new Map(before.map((e) => [e.path, e]));
  const upsert = after.filter((e) => {
    const o = old.get(e.path);
    old.delete(e.path);
    return !o || !sameEntry(o, e);
  });
  return { base, upsert, remove: [...old.keys()] };
}

/** manifestLine(entryOf(r)), without the entry. */
export function rowLine(r: SnapshotRow): string {
  const type = TYPES[r.mode & S_IFMT]!;
  const file = type === 'file';
  return `${r.name}\0${type}\0${r.mode & 0o7777}\0${r.mtimeMs}\0${file ? r.size : ''}\0${(file && r.digest) || ''}\0${(type === 'symlink' && r.link) || ''}`;
}

export function entryOf(r: SnapshotRow): ManifestEntry {
  const type = TYPES[r.mode & S_IFMT]!;
  const entry: ManifestEntry = { path: r.name, type, mode: r.mode & 0o7777, mtimeMs: r.mtimeMs };
  if (type === 'file') {
    entry.size = r.size;
    entry.digest = r.digest;
  } else if (type === 'symlink') entry.link = r.link;
  return entry;
}

// Depth first, names in byte order, a directory before its contents (the
// order BuildContext.list() gives), with synchronous calls: on a warm
// rebuild this walk is most of what the client does. Below a directory no
// ignore pattern matches, an entry is visible exactly when no pattern
// matches it; anything else asks the context (exceptions, `!` patterns).
async function walk(ctx: BuildContext, visit: (rel: string, host: string, st: Stats) => void): Promise<void> {
  const noIgnore = ctx.ignore.isEmpty;
  const root = ctx.root === '/' ? '' : ctx.root;
  const dir = async (rel: string, clean: boolean): Promise<void> => {
    for (const name of sortNames(readdirSync(rel === '' ? ctx.root : `${root}/${rel}`))) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const childClean = clean && (noIgnore || !ctx.ignore.matches(childRel));
      if (!childClean && !(await ctx.isVisible(`/${childRel}`))) continue;
      const host = `${root}/${childRel}`;
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st) continue;
      visit(childRel, host, st);
      if (st.isDirectory()) await dir(childRel, childClean);
    }
  };
  await dir('', true);
}
