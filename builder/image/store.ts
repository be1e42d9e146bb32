// Local image store: which images exist and which names point at them.
// Blobs live in the ContentStore; this only keeps a small JSON index,
//   <root>/images/index.json  { version, images: {manifestDigest: record}, tags: {fullRef: manifestDigest} }
// Every change is read-modify-write under a lock file and lands with an
// atomic rename, so two processes tagging at once lose nothing and readers
// (who take no lock) always see a whole file.

import { closeSync, fstatSync, mkdirSync, openSync, readFileSync } from 'node:fs';
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

interface IndexFile {
  version: 1;
  images: Record<string, Omit<ImageRecord, 'manifestDigest'>>;
  tags: Record<string, string>;
  /**
   * By image id: `repository@digest` of the manifests a registry serves for
   * it, learnt when the image was pushed or pulled (docker's RepoDigests).
   * A pushed manifest names compressed layers, so its digest is not the
   * local one. Absent in stores written before it existed.
   */
  repoDigests?: Record<string, string[]>;
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

const INDEX_VERSION = 1;

// The index as last parsed or written by this process, by path, with the
// identity of that version of the file. The index keeps every image ever
// built (docker's dangling ones too): after a few hundred rebuilds it is
// over 100 KB, and a build read and parsed it five times (its base image,
// the tag, the tag again under the lock, the memo's second solve twice),
// ~1 ms each; now once. Every version is a file of its own (written beside
// it and renamed in, with a time later than the version it replaced:
// update()), so a stat tells whether the version parsed is the one there.
const parsed = new Map<string, { version: string; index: IndexFile }>();
const PARSED_MAX = 4;

function remember(indexPath: string, version: string, index: IndexFile): void {
  if (parsed.size >= PARSED_MAX && !parsed.has(indexPath)) parsed.clear();
  parsed.set(indexPath, { version, index });
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
    let fd: number;
    try {
      fd = openSync(this.indexPath, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: INDEX_VERSION, images: {}, tags: {} };
      throw e;
    }
    let version: string;
    let index: IndexFile;
    try {
      // The identity and the text of one version: read through one descriptor.
      version = fileVersion(fstatSync(fd));
      const known = parsed.get(this.indexPath);
      if (!own && known?.version === version) return known.index;
      index = JSON.parse(readFileSync(fd, 'utf8')) as IndexFile;
    } finally {
      closeSync(fd);
    }
    if (index.version !== INDEX_VERSION) throw new Error(`image index ${this.indexPath} has unknown version ${String(index.version)}`);
    if (!own) remember(this.indexPath, version, index);
    return index;
  }

  // `after`: what must be durable before the index may name it (the
  // image's blobs, still being written); the new index is written and
  // fsynced meanwhile, and renamed in only once it settled. `mutate` says
  // whether it changed the index: the index keeps every image ever built
  // (docker's dangling ones too), and comparing it whole before and after
  // (twice: without and with the lock) cost a build four serializations
  // of it, ~2 ms at 100 KB.
  //
  // `done` answers, without changing it, when the index already holds the
  // change (a rebuild re-tags the same image): then the file as it is now
  // answers, without the lock (readers always see a whole file, and the
  // answer holds as of that read).
  private async update<T>(done: (index: IndexFile) => { value: T } | undefined, mutate: (index: IndexFile) => Promise<Mutation<T>> | Mutation<T>, after?: Promise<unknown>): Promise<T> {
    const already = done(await this.load());
    if (already) {
      await after;
      return already.value;
    }
    mkdirSync(this.dir, { recursive: true });
    return withLock(this.lockPath, async () => {
      const index = await this.load(true);
      const { value, changed } = await mutate(index);
      // Someone else made the change meanwhile: no write, no fsync. Each
      // version is stamped a time of its own (stampAfter()): the memo tells
      // versions apart by a stat (memo/memo-checks.ts memoStart()).
      if (changed) remember(this.indexPath, fileVersion(await writeFileAtomic(this.indexPath, JSON.stringify(index, null, 1) + '\n', after, stampAfter(this.indexPath))), index);
      else await after;
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
    const recordOf = (index: IndexFile) => ({ manifestDigest, ...index.images[manifestDigest]! });
    return this.update((index) => (index.images[manifestDigest] ? { value: recordOf(index) } : undefined), async (index) => {
      const changed = index.images[manifestDigest] === undefined;
      index.images[manifestDigest] ??= await describe();
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
    const tagged = (index: IndexFile) => index.images[manifestDigest] !== undefined && index.tags[name] === manifestDigest;
    await this.update((index) => (tagged(index) ? { value: undefined } : undefined), async (index) => {
      const changed = !tagged(index);
      index.images[manifestDigest] ??= await describe();
      index.tags[name] = manifestDigest;
      return { changed, value: undefined };
    }, after);
    return name;
  }

  /** Remember that `repository` (full name, no tag) serves image `id` as manifest `digest`. */
  async recordRepoDigest(id: Digest, repository: string, digest: Digest): Promise<void> {
    const entry = `${repository}@${digest}`;
    // One digest per repository, the latest push or pull (as docker keeps it).
    const listed = (index: IndexFile) => index.repoDigests?.[id] ?? [];
    const next = (index: IndexFile) => [...listed(index).filter((e) => !e.startsWith(`${repository}@`)), entry].sort();
    // Sorted, one per repository and never empty: the same text is the same list.
    const held = (index: IndexFile) => next(index).join('\n') === listed(index).join('\n');
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

  async get(manifestDigest: Digest): Promise<ImageRecord | undefined> {
    const rec = (await this.load()).images[manifestDigest];
    return rec ? { manifestDigest, ...rec } : undefined;
  }

  /** Every image the store knows: the roots a future GC must keep. */
  async records(): Promise<ImageRecord[]> {
    const index = await this.load();
    return Object.entries(index.images).map(([d, rec]) => ({ manifestDigest: d as Digest, ...rec }));
  }

  /** Resolve like `docker image inspect`: name[:tag], name@digest, full or short image id, manifest digest. */
  async resolve(refOrId: string): Promise<ResolvedImage> {
    const found = resolveIn(await this.load(), refOrId);
    if (!found) throw new ImageError('IMAGE_NOT_FOUND', `No such image: ${refOrId}`);
    return found;
  }

  async tryResolve(refOrId: string): Promise<ResolvedImage | undefined> {
    return resolveIn(await this.load(), refOrId);
  }

  /** One row per name, plus one `<none>` row per untagged image; newest first like `docker images`. */
  async list(): Promise<ImageListEntry[]> {
    const index = await this.load();
    const rows: ImageListEntry[] = [];
    const tagged = new Set<string>();
    for (const [name, digest] of Object.entries(index.tags)) {
      const rec = index.images[digest];
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
    for (const [digest, rec] of Object.entries(index.images)) {
      if (tagged.has(digest)) continue;
      rows.push({ repository: '<none>', tag: '<none>', id: rec.id, manifestDigest: digest as Digest, created: rec.created, size: rec.size });
    }
    return rows.sort((a, b) => b.created.localeCompare(a.created) || (a.reference ?? '~').localeCompare(b.reference ?? '~'));
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
          delete index.images[found.manifestDigest];
          result.deleted.push(found.manifestDigest);
        }
        return { changed: true, value: result };
      }
      // By id: every manifest with that config id goes (they are the same image to the user).
      const victims = Object.entries(index.images).filter(([d, rec]) => d === found.manifestDigest || rec.id === found.id).map(([d]) => d);
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
        delete index.images[d];
        result.deleted.push(d as Digest);
      }
      // found: at least its own manifest was a victim.
      return { changed: true, value: result };
    });
  }
}

/** The full tag name `s` denotes if it is a name present in the index. */
function nameIn(index: IndexFile, s: string): string | undefined {
  if (FULL_DIGEST.test(s) || s.includes('@')) return undefined;
  try {
    const name = formatReference(parseReference(s));
    return name in index.tags ? name : undefined;
  } catch {
    return undefined;
  }
}

function resolvedFor(index: IndexFile, manifestDigest: string): ResolvedImage {
  return {
    manifestDigest: manifestDigest as Digest,
    id: index.images[manifestDigest]!.id,
    tags: Object.entries(index.tags).filter(([, d]) => d === manifestDigest).map(([n]) => n).sort(),
    repoDigests: [...(index.repoDigests?.[index.images[manifestDigest]!.id] ?? [])],
  };
}

/** Several manifests can share a config (same image, other compression); prefer a named one, then the newest. */
function pickById(index: IndexFile, matching: string[]): string {
  const named = new Set(Object.values(index.tags));
  return [...matching].sort((a, b) => {
    const byName = Number(named.has(b)) - Number(named.has(a));
    return byName || index.images[b]!.added.localeCompare(index.images[a]!.added);
  })[0]!;
}

function resolveIn(index: IndexFile, s: string): ResolvedImage | undefined {
  if (FULL_DIGEST.test(s)) {
    if (index.images[s]) return resolvedFor(index, s);
    const byId = Object.keys(index.images).filter((d) => index.images[d]!.id === s);
    return byId.length > 0 ? resolvedFor(index, pickById(index, byId)) : undefined;
  }
  if (s.includes('@')) {
    const ref = parseReference(s);
    return ref.digest && index.images[ref.digest] ? resolvedFor(index, ref.digest) : undefined;
  }
  const name = nameIn(index, s);
  if (name) return resolvedFor(index, index.tags[name]!);
  const prefix = ID_PREFIX.exec(s)?.[1];
  if (prefix === undefined) {
    parseReference(s); // a malformed name deserves its own error rather than "No such image"
    return undefined;
  }
  const matching = Object.keys(index.images).filter((d) => index.images[d]!.id.startsWith(`sha256:${prefix}`));
  const ids = new Set(matching.map((d) => index.images[d]!.id));
  if (ids.size > 1) throw new ImageError('AMBIGUOUS_IMAGE_ID', `image id prefix ${s} is ambiguous (${ids.size} images match)`);
  return matching.length > 0 ? resolvedFor(index, pickById(index, matching)) : undefined;
}
