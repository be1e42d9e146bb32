// Local image store: which images exist and which names point at them.
// Blobs live in the ContentStore; this keeps the names in a small JSON
// index and each image's record in one of up to 256 shards:
//   <root>/images/index.json         { version: 2, tags: {fullRef: manifestDigest}, repoDigests }
//   <root>/images/records/<xx>.json  { manifestDigest: record } for the digests whose hex starts with xx
// A build adds its image's record to one shard and moves its tag in the
// index; the image a rebuild replaced stays, untagged (as docker keeps
// dangling images), in its shard. So what a build reads and writes does not
// grow with the store's history: version 1 kept every record in the index,
// which after 3,000 builds was 830 KB to read, parse and rewrite on every
// rebuild. A version-1 index is read as it is; the first change under the
// lock moves its records into shards and writes it as version 2.
// Every change is read-modify-write under one lock file and lands with
// atomic renames (a record added before the index that names it, one
// removed after), so two processes tagging at once lose nothing and
// readers (who take no lock) always see whole files.

import { closeSync, fstatSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { listDir } from '../../cache/list-dir.js';
import path from 'node:path';
import type { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { ImageError } from './errors.js';
import { writeFileAtomic } from './fs-util.js';
import { fileVersion, stampAfter } from '../../cache/version-stamp.js';
import { readImage, type ImageDescription } from './image.js';
import { withLock } from './lock.js';
import { familiarRepository, parseReference, formatReference, repositoryName } from './reference.js';

export interface ImageRecord {
  manifestDigest: Digest;
  /** Config digest: Docker's IMAGE ID. */
  id: Digest;
  /** From the config (`created`), may be empty for images without one. */
  created: string;
  /** Sum of the layer blob sizes. */
  size: number;
  /** When this store first saw the image. */
  added: string;
}

type StoredRecord = Omit<ImageRecord, 'manifestDigest'>;

interface IndexFile {
  version: 1 | 2;
  /** Version 1 only: every record (version 2 keeps them in shards). */
  images?: Record<string, StoredRecord>;
  tags: Record<string, string>;
  /**
   * By image id: `repository@digest` of the manifests a registry serves for
   * it, learnt when the image was pushed or pulled (docker's RepoDigests).
   * A pushed manifest names compressed layers, so its digest is not the
   * local one. Absent in stores written before it existed.
   */
  repoDigests?: Record<string, string[]>;
}

/** An index as the operations see it: its names, and the records (version 1's own, or the shards'). */
interface IndexView {
  tags: Record<string, string>;
  repoDigests?: Record<string, string[]>;
  records: Records;
}

/** What a change of the index answers, and whether it changed anything (see update()). */
interface Mutation<T> {
  changed: boolean;
  value: T;
}

export interface ResolvedImage {
  manifestDigest: Digest;
  id: Digest;
  /** Full normalised names pointing at this image. */
  tags: string[];
  /** `repository@digest` (full names) a registry serves this image as; empty if never pushed or pulled. */
  repoDigests: string[];
}

export interface ImageListEntry {
  /** Familiar repository (`busybox`), or `<none>` for an untagged image. */
  repository: string;
  tag: string;
  /** Full normalised reference, undefined for an untagged image. */
  reference?: string;
  id: Digest;
  manifestDigest: Digest;
  created: string;
  size: number;
}

export interface RemoveResult {
  /** Names removed, full normalised form. */
  untagged: string[];
  /** Images forgotten by the store (their blobs stay until GC). */
  deleted: Digest[];
}

const INDEX_VERSION = 2;
const RECORDS_DIR = 'records';
const SHARD_NAME = /^[0-9a-f]{2}\.json$/;

/**
 * JSON files replaced by rename on every change (the index, the shards), as
 * last parsed or written by this process, by path, with the identity of
 * that version: a build reads the index several times (its base image, the
 * tag, the tag again under the lock, the memo's second solve twice). Every
 * version is a file of its own (written beside it and renamed in, with a
 * time later than the version it replaced: update()), so a stat tells
 * whether the version parsed is the one there.
 */
class ParsedFiles<T> {
  private readonly byPath = new Map<string, { version: string; value: T }>();

  constructor(private readonly kept: number, private readonly check: (value: unknown, file: string) => T) {}

  /**
   * The file as it is now (undefined when there is none) with its version,
   * shared with every other read of that version; `own`: parsed for the
   * caller alone (to change under the lock).
   */
  read(file: string, own: boolean): { version: string; value: T } | undefined {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      // The identity and the text of one version: read through one descriptor.
      const version = fileVersion(fstatSync(fd));
      const known = this.byPath.get(file);
      if (!own && known?.version === version) return known;
      const value = this.check(JSON.parse(readFileSync(fd, 'utf8')), file);
      if (!own) this.remember(file, version, value);
      return { version, value };
    } finally {
      closeSync(fd);
    }
  }

  remember(file: string, version: string, value: T): void {
    if (this.byPath.size >= this.kept && !this.byPath.has(file)) this.byPath.clear();
    this.byPath.set(file, { version, value });
  }
}

const parsedIndexes = new ParsedFiles<IndexFile>(4, (value, file) => {
  const index = value as IndexFile;
  if (index.version !== INDEX_VERSION && index.version !== 1) throw new ImageError('UNSUPPORTED_INDEX_VERSION', `image index ${file} is version ${String(index.version)}, written by a newer tsbuild (this one reads versions 1 and 2)`);
  return index;
});

const parsedShards = new ParsedFiles<Record<string, StoredRecord>>(512, (value, file) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`image record shard ${file} is not a JSON object`);
  return value as Record<string, StoredRecord>;
});

/** The shard holding `manifestDigest`'s record. */
export function recordShardPath(imagesDir: string, manifestDigest: string): string {
  const hex = manifestDigest.slice(manifestDigest.indexOf(':') + 1);
  return path.join(imagesDir, RECORDS_DIR, `${hex.slice(0, 2)}.json`);
}

/** A shard's records as they are now ({} when there is none). */
function readShard(shardPath: string, own: boolean): Record<string, StoredRecord> {
  return parsedShards.read(shardPath, own)?.value ?? {};
}

/** An index's names with these records. */
function viewOf(index: IndexFile, records: Records): IndexView {
  return { tags: index.tags, ...(index.repoDigests ? { repoDigests: index.repoDigests } : {}), records };
}

/**
 * The records an index version refers to: a version-1 index's own, or the
 * shards', each read when first asked for. Under the lock (`own`) the
 * shards read are the caller's to change; set() and delete() mark them to
 * be written.
 */
class Records {
  private readonly shards = new Map<string, Record<string, StoredRecord>>();
  private readonly changed = new Set<string>();
  /** Whether set() added or replaced a record (else the changes only removed some). */
  added = false;

  constructor(private readonly imagesDir: string, private readonly inline: Record<string, StoredRecord> | undefined, private readonly own: boolean) {}

  get(manifestDigest: string): StoredRecord | undefined {
    if (this.inline) return Object.hasOwn(this.inline, manifestDigest) ? this.inline[manifestDigest] : undefined;
    const shard = this.shard(recordShardPath(this.imagesDir, manifestDigest));
    return Object.hasOwn(shard, manifestDigest) ? shard[manifestDigest] : undefined;
  }

  /** Every record: what `images`, an id's lookup and the collector's roots need (reads every shard). */
  entries(): [string, StoredRecord][] {
    if (this.inline) return Object.entries(this.inline);
    const dir = path.join(this.imagesDir, RECORDS_DIR);
    const paths = new Set([...listDir(dir).filter((n) => SHARD_NAME.test(n)).map((n) => path.join(dir, n)), ...this.shards.keys()]);
    return [...paths].sort().flatMap((p) => Object.entries(this.shard(p)));
  }

  set(manifestDigest: string, record: StoredRecord): void {
    const p = recordShardPath(this.imagesDir, manifestDigest);
    this.shard(p)[manifestDigest] = record;
    this.changed.add(p);
    this.added = true;
  }

  delete(manifestDigest: string): void {
    const p = recordShardPath(this.imagesDir, manifestDigest);
    const shard = this.shard(p);
    if (!Object.hasOwn(shard, manifestDigest)) return;
    delete shard[manifestDigest];
    this.changed.add(p);
  }

  /** The shards set() or delete() changed, as they are now. */
  written(): [string, Record<string, StoredRecord>][] {
    return [...this.changed].map((p) => [p, this.shards.get(p)!]);
  }

  private shard(p: string): Record<string, StoredRecord> {
    let shard = this.shards.get(p);
    if (!shard) this.shards.set(p, shard = readShard(p, this.own));
    return shard;
  }
}

const FULL_DIGEST = /^sha256:[a-f0-9]{64}$/;
const ID_PREFIX = /^(?:sha256:)?([a-f0-9]{1,64})$/;

export class ImageStore {
  readonly dir: string;
  private readonly indexPath: string;
  private readonly lockPath: string;

  constructor(
    root: string,
    readonly content: ContentStore,
  ) {
    this.dir = path.join(path.resolve(root), 'images');
    this.indexPath = path.join(this.dir, 'index.json');
    this.lockPath = path.join(this.dir, 'index.json.lock');
  }

  /** Where the image records' shards are. */
  get recordsDir(): string {
    return path.join(this.dir, RECORDS_DIR);
  }

  /** Where `inspect` and `history` remember the uncompressed content size of each layer blob. */
  get contentSizeMemoDir(): string {
    return path.join(this.dir, 'content-sizes');
  }

  /** Where exporters remember converted (compressed) layers: pass as `memoDir`. */
  get layerMemoDir(): string {
    return path.join(this.dir, 'converted-layers');
  }

  // The index as it is now, shared with every other load() of the same
  // version, read only; `own`: parsed for the caller alone (update()).
  private async load(own = false): Promise<IndexFile> {
    return parsedIndexes.read(this.indexPath, own)?.value ?? { version: INDEX_VERSION, tags: {} };
  }

  /** The index as it is now, its records read from where that version keeps them. */
  private async view(): Promise<IndexView> {
    const index = await this.load();
    return viewOf(index, new Records(this.dir, index.images, false));
  }

  // `after`: what must be durable before the index or a shard may name it
  // (the image's blobs, still being written); the new files are written
  // and fsynced meanwhile, and renamed in only once it settled. `mutate`
  // says whether it changed anything; the records it set or deleted tell
  // which shards, and its names whether the index itself.
  //
  // `done` answers, without changing it, when the index already holds the
  // change (a rebuild re-tags the same image): then the file as it is now
  // answers, without the lock (readers always see a whole file, and the
  // answer holds as of that read).
  private async update<T>(done: (index: IndexView) => { value: T } | undefined, mutate: (index: IndexView) => Promise<Mutation<T>> | Mutation<T>, after?: Promise<unknown>): Promise<T> {
    const already = done(await this.view());
    if (already) {
      await after;
      return already.value;
    }
    mkdirSync(this.recordsDir, { recursive: true });
    return withLock(this.lockPath, async () => {
      const index = await this.load(true);
      const view = viewOf(index, new Records(this.dir, undefined, true));
      // A version-1 index: its records move into the shards with this change.
      const migrating = index.images !== undefined;
      for (const [digest, record] of Object.entries(index.images ?? {})) view.records.set(digest, record);
      const names = namesOf(view);
      const { value, changed } = await mutate(view);
      if (!changed && !migrating) {
        await after;
        return value;
      }
      // Records a change adds land before the index that names them, records
      // it removes after the index that no longer does (a crash in between
      // leaves an untagged image, never a name without one); the fsyncs of
      // the first kind run beside the index's. Someone else made the change
      // meanwhile: no write, no fsync. Each version is stamped a time of its
      // own (stampAfter()): the memo tells versions apart by a stat
      // (memo/memo-checks.ts).
      const writeShards = (before?: Promise<unknown>) => Promise.all(view.records.written().map(async ([shardPath, records]) => {
        parsedShards.remember(shardPath, fileVersion(await writeFileAtomic(shardPath, JSON.stringify(records) + '\n', before, stampAfter(shardPath))), records);
      }));
      const writeIndex = async (before?: Promise<unknown>) => {
        const next: IndexFile = { version: INDEX_VERSION, tags: view.tags, ...(view.repoDigests ? { repoDigests: view.repoDigests } : {}) };
        parsedIndexes.remember(this.indexPath, fileVersion(await writeFileAtomic(this.indexPath, JSON.stringify(next, null, 1) + '\n', before, stampAfter(this.indexPath))), next);
      };
      if (!migrating && namesOf(view) === names) {
        await Promise.all([after, writeShards(after)]);
      } else if (view.records.added) {
        const shardsWritten = writeShards(after);
        await writeIndex(Promise.all([after, shardsWritten]));
      } else {
        await writeIndex(after);
        await writeShards();
      }
      return value;
    });
  }

  /** The record for a manifest, computed from the blobs (outside the lock: it only reads immutable blobs). */
  private async describe(manifestDigest: Digest, known?: ImageDescription): Promise<Omit<ImageRecord, 'manifestDigest'>> {
    const image = known?.manifestDigest === manifestDigest ? known : await readImage(this.content, manifestDigest);
    return {
      id: image.configDigest,
      created: image.config.created ?? '',
      size: image.layers.reduce((sum, l) => sum + l.size, 0),
      added: new Date().toISOString(),
    };
  }

  // The record of an image the index may lack, read from its blobs at most
  // once and only when it does lack it: a rebuild's image usually is there.
  // `known`: the image as its builder has it in memory (nothing to read).
  private describer(manifestDigest: Digest, known?: ImageDescription): () => Promise<Omit<ImageRecord, 'manifestDigest'>> {
    let described: Promise<Omit<ImageRecord, 'manifestDigest'>> | undefined;
    return () => (described ??= this.describe(manifestDigest, known));
  }

  /**
   * Register an image (no name); returns its record. Idempotent. `after`:
   * its blobs' writes, when they are still under way (see update).
   */
  async add(manifestDigest: Digest, known?: ImageDescription, after?: Promise<unknown>): Promise<ImageRecord> {
    const describe = this.describer(manifestDigest, known);
    const recordOf = (index: IndexView) => ({ manifestDigest, ...index.records.get(manifestDigest)! });
    return this.update((index) => (index.records.get(manifestDigest) ? { value: recordOf(index) } : undefined), async (index) => {
      const changed = index.records.get(manifestDigest) === undefined;
      if (changed) index.records.set(manifestDigest, await describe());
      return { changed, value: recordOf(index) };
    }, after);
  }

  /**
   * Point `ref` (normalised: `busybox` -> `docker.io/library/busybox:latest`) at an image, registering it if new.
   * `after`: its blobs' writes, when they are still under way (see update).
   */
  async tag(ref: string, manifestDigest: Digest, known?: ImageDescription, after?: Promise<unknown>): Promise<string> {
    const parsed = parseReference(ref);
    if (parsed.tag === undefined) throw new ImageError('INVALID_REFERENCE', `cannot tag with a digest reference: ${ref}`);
    delete parsed.digest;
    const name = formatReference(parsed);
    const describe = this.describer(manifestDigest, known);
    const tagged = (index: IndexView) => index.records.get(manifestDigest) !== undefined && index.tags[name] === manifestDigest;
    await this.update((index) => (tagged(index) ? { value: undefined } : undefined), async (index) => {
      const changed = !tagged(index);
      if (index.records.get(manifestDigest) === undefined) index.records.set(manifestDigest, await describe());
      index.tags[name] = manifestDigest;
      return { changed, value: undefined };
    }, after);
    return name;
  }

  /** Remember that `repository` (full name, no tag) serves image `id` as manifest `digest`. */
  async recordRepoDigest(id: Digest, repository: string, digest: Digest): Promise<void> {
    const entry = `${repository}@${digest}`;
    // One digest per repository, the latest push or pull (as docker keeps it).
    const listed = (index: IndexView) => index.repoDigests?.[id] ?? [];
    const next = (index: IndexView) => [...listed(index).filter((e) => !e.startsWith(`${repository}@`)), entry].sort();
    // Sorted, one per repository and never empty: the same text is the same list.
    const held = (index: IndexView) => next(index).join('\n') === listed(index).join('\n');
    await this.update((index) => (held(index) ? { value: undefined } : undefined), (index) => {
      if (held(index)) return { changed: false, value: undefined };
      (index.repoDigests ??= {})[id] = next(index);
      return { changed: true, value: undefined };
    });
  }

  /** Remove one name; returns false when it was not there. The image stays (untagged) until `remove`. */
  async untag(ref: string): Promise<boolean> {
    const name = formatReference(parseReference(ref));
    return this.update((index) => (name in index.tags ? undefined : { value: false }), (index) => {
      if (!(name in index.tags)) return { changed: false, value: false };
      delete index.tags[name];
      return { changed: true, value: true };
    });
  }

  /**
   * The file that holds an image's record and its version, read together
   * (one descriptor): what a memo answer producing the image checks
   * (memo/memo-checks.ts); undefined when the store has no record of it.
   */
  async recordVersion(manifestDigest: Digest): Promise<{ path: string; id: string } | undefined> {
    const index = parsedIndexes.read(this.indexPath, false);
    // A version-1 index holds the records itself.
    if (index?.value.images) return Object.hasOwn(index.value.images, manifestDigest) ? { path: this.indexPath, id: index.version } : undefined;
    const shardPath = recordShardPath(this.dir, manifestDigest);
    const shard = parsedShards.read(shardPath, false);
    return shard && Object.hasOwn(shard.value, manifestDigest) ? { path: shardPath, id: shard.version } : undefined;
  }

  async get(manifestDigest: Digest): Promise<ImageRecord | undefined> {
    const rec = (await this.view()).records.get(manifestDigest);
    return rec ? { manifestDigest, ...rec } : undefined;
  }

  /** Every image the store knows: the roots a future GC must keep. */
  async records(): Promise<ImageRecord[]> {
    return (await this.view()).records.entries().map(([d, rec]) => ({ manifestDigest: d as Digest, ...rec }));
  }

  /** Resolve like `docker image inspect`: name[:tag], name@digest, full or short image id, manifest digest. */
  async resolve(refOrId: string): Promise<ResolvedImage> {
    const found = resolveIn(await this.view(), refOrId);
    if (!found) throw new ImageError('IMAGE_NOT_FOUND', `No such image: ${refOrId}`);
    return found;
  }

  async tryResolve(refOrId: string): Promise<ResolvedImage | undefined> {
    return resolveIn(await this.view(), refOrId);
  }

  /** One row per name, plus one `<none>` row per untagged image; newest first like `docker images`. */
  async list(): Promise<ImageListEntry[]> {
    const index = await this.view();
    const rows: ImageListEntry[] = [];
    const tagged = new Set<string>();
    for (const [name, digest] of Object.entries(index.tags)) {
      const rec = index.records.get(digest);
      if (!rec) continue;
      tagged.add(digest);
      const ref = parseReference(name);
      rows.push({
        repository: familiarRepository(ref),
        tag: ref.tag ?? '<none>',
        reference: name,
        id: rec.id,
        manifestDigest: digest as Digest,
        created: rec.created,
        size: rec.size,
      });
    }
    for (const [digest, rec] of index.records.entries()) {
      if (tagged.has(digest)) continue;
      rows.push({ repository: '<none>', tag: '<none>', id: rec.id, manifestDigest: digest as Digest, created: rec.created, size: rec.size });
    }
    return rows.sort((a, b) => b.created.localeCompare(a.created) || (a.reference ?? '~').localeCompare(b.reference ?? '~'));
  }

  /**
   * Forgets these images and every name pointing at them, in one change
   * under the lock (`image prune`): what remove(digest, { force: true })
   * does for each, without a pass over every record per image. One result
   * per digest, in the order given; an image already gone has none.
   */
  async forget(manifestDigests: readonly Digest[]): Promise<RemoveResult[]> {
    return this.update(() => undefined, (index) => {
      const results: RemoveResult[] = [];
      for (const digest of new Set(manifestDigests)) {
        if (!index.records.get(digest)) continue;
        const untagged = Object.entries(index.tags).filter(([, d]) => d === digest).map(([name]) => name);
        for (const name of untagged) delete index.tags[name];
        index.records.delete(digest);
        results.push({ untagged, deleted: [digest] });
      }
      return { changed: results.length > 0, value: results };
    });
  }

  /**
   * `docker rmi` semantics. A name only loses that name; the image is
   * forgotten when its last name goes. An id (or digest) forgets the image
   * and all its names, but refuses without `force` if several names share it.
   */
  async remove(refOrId: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    // Always a change, or an error (none of it there: told without the lock).
    const notFound = () => new ImageError('IMAGE_NOT_FOUND', `No such image: ${refOrId}`);
    return this.update((index) => {
      if (!resolveIn(index, refOrId)) throw notFound();
      return undefined;
    }, (index) => {
      const found = resolveIn(index, refOrId);
      if (!found) throw notFound();
      const result: RemoveResult = { untagged: [], deleted: [] };
      const byName = nameIn(index, refOrId);
      if (byName) {
        delete index.tags[byName];
        result.untagged.push(byName);
        if (!Object.values(index.tags).includes(found.manifestDigest)) {
          index.records.delete(found.manifestDigest);
          result.deleted.push(found.manifestDigest);
        }
        return { changed: true, value: result };
      }
      // By id: every manifest with that config id goes (they are the same image to the user).
      const victims = index.records.entries().filter(([d, rec]) => d === found.manifestDigest || rec.id === found.id).map(([d]) => d);
      const names = Object.entries(index.tags).filter(([, d]) => victims.includes(d)).map(([n]) => n);
      const repos = new Set(names.map((n) => repositoryName(parseReference(n))));
      if (repos.size > 1 && !opts.force) {
        throw new ImageError(
          'IMAGE_IN_USE',
          `unable to delete ${found.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      for (const n of names) {
        delete index.tags[n];
        result.untagged.push(n);
      }
      for (const d of victims) {
        index.records.delete(d);
        result.deleted.push(d as Digest);
      }
      // found: at least its own manifest was a victim.
      return { changed: true, value: result };
    });
  }
}

/** Names and repo digests: what the index file itself holds (its records apart). */
function namesOf(index: IndexView): string {
  return JSON.stringify([index.tags, index.repoDigests ?? null]);
}

/** The full tag name `s` denotes if it is a name present in the index. */
function nameIn(index: IndexView, s: string): string | undefined {
  if (FULL_DIGEST.test(s) || s.includes('@')) return undefined;
  try {
    const name = formatReference(parseReference(s));
    return name in index.tags ? name : undefined;
  } catch {
    return undefined;
  }
}

function resolvedFor(index: IndexView, manifestDigest: string): ResolvedImage {
  const { id } = index.records.get(manifestDigest)!;
  return {
    manifestDigest: manifestDigest as Digest,
    id,
    tags: Object.entries(index.tags).filter(([, d]) => d === manifestDigest).map(([n]) => n).sort(),
    repoDigests: [...(index.repoDigests?.[id] ?? [])],
  };
}

/** Several manifests can share a config (same image, other compression); prefer a named one, then the newest. */
function pickById(index: IndexView, matching: [string, StoredRecord][]): string {
  const named = new Set(Object.values(index.tags));
  return [...matching].sort(([a, ra], [b, rb]) => {
    const byName = Number(named.has(b)) - Number(named.has(a));
    return byName || rb.added.localeCompare(ra.added);
  })[0]![0];
}

function resolveIn(index: IndexView, s: string): ResolvedImage | undefined {
  if (FULL_DIGEST.test(s)) {
    if (index.records.get(s)) return resolvedFor(index, s);
    const byId = index.records.entries().filter(([, rec]) => rec.id === s);
    return byId.length > 0 ? resolvedFor(index, pickById(index, byId)) : undefined;
  }
  if (s.includes('@')) {
    const ref = parseReference(s);
    return ref.digest && index.records.get(ref.digest) ? resolvedFor(index, ref.digest) : undefined;
  }
  const name = nameIn(index, s);
  // A name whose image has no record (a version-1 index another writer damaged): not found, as in version 1.
  if (name) return index.records.get(index.tags[name]!) ? resolvedFor(index, index.tags[name]!) : undefined;
  const prefix = ID_PREFIX.exec(s)?.[1];
  if (prefix === undefined) {
    parseReference(s); // a malformed name deserves its own error rather than "No such image"
    return undefined;
  }
  const matching = index.records.entries().filter(([, rec]) => rec.id.startsWith(`sha256:${prefix}`));
  const ids = new Set(matching.map(([, rec]) => rec.id));
  if (ids.size > 1) throw new ImageError('AMBIGUOUS_IMAGE_ID', `image id prefix ${s} is ambiguous (${ids.size} images match)`);
  return matching.length > 0 ? resolvedFor(index, pickById(index, matching)) : undefined;
}
