// The server's memo of whole build answers. A client that asks again for a
// build it asked before (same request, same context digests) of a store
// in which nothing that build read has changed gets the recorded answer
// (its progress records and result) without a build: the no-op rebuild a
// CI pipeline or an editor's save loop repeats all day.
//
// Only what cannot depend on anything but the request and the store is
// recorded: a build whose steps all came from the local cache index and
// that fetched nothing (pipeline/store-only.ts), with outputs into the
// store only (no push, no streamed output, no cache export or import, no
// --pull, --no-cache, remote --build-context, provenance or
// --metadata-file, whose build ref is new each time).
//
// "Nothing it read changed" is checked with a few stats of what such a
// build reads, taken when it is recorded and compared on every use: the
// image index (tags, base images; replaced by rename on every change),
// each cache entry it used (its inode) and the directory holding it (an
// entry added, replaced or removed changes the directory's mtime), and the
// blobs of the image it produced. A tag, rmi, pull, prune or another build
// changing one of them, from this server or any other process on the
// store, changes a stat. File times come from the kernel's coarse clock
// (a tick may be several ms): a build is recorded only if every time it
// stats is older than the build's start by more than a tick, so a change
// made while it ran, or just before, cannot share a timestamp with the
// state it recorded.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { ContentStore } from '../../cache/content-store.js';
import type { Digest } from '../../cache/digest.js';
import { resultEntryPath } from '../../cache/result-index.js';
import { storePaths } from '../store/store-paths.js';
import type { BuildRequest, ServerMessage } from '../remote/protocol.js';

/** More than one tick of the kernel's coarse clock (4 ms at HZ=250, 10 ms at HZ=100). */
const RACY_MS = 25;
const ENTRIES = 256;

/** What a memoizable build tells once it succeeded. */
export interface StoreOnlyBuild {
  /** The cache keys it read (BuildResult.storeOnlyKeys). */
  keys: string[];
  manifestDigest: string;
}

type Kind = 'file' | 'dir' | 'entry' | 'blob';

interface Check {
  path: string;
  kind: Kind;
  id: string;
}

interface MemoEntry {
  /** What the build sent from context-ready to its result, both included. */
  messages: ServerMessage[];
  checks: Check[];
  /** Touched on every use, as the build would have: the collector goes by their last use. */
  entryFiles: string[];
}

/** What of the server's settings a memo needs: its store, and its default cache import and export (a build that uses them is never memoized). */
export interface MemoSettings {
  root: string;
  cacheFrom: readonly unknown[];
  cacheTo: readonly unknown[];
}

export class ResultMemo {
  private readonly entries = new LRUCache<string, MemoEntry>({ max: ENTRIES });
  private readonly content: ContentStore;
  private readonly paths: ReturnType<typeof storePaths>;

  constructor(private readonly settings: MemoSettings) {
    this.paths = storePaths(settings.root);
    this.content = new ContentStore(this.paths.content);
  }

  /** The request's memo key, or undefined when its answer may not be memoized. */
  keyOf(req: BuildRequest): string | undefined {
    return memoizable(req, this.settings) ? createHash('sha256').update(JSON.stringify(req)).digest('hex') : undefined;
  }

  /** The recorded answer, while nothing it depends on changed. */
  answer(key: string): ServerMessage[] | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.checks.some((c) => identity(c.path, c.kind) !== c.id)) {
      this.entries.delete(key);
      return undefined;
    }
    // The build would have marked its cache entries used: done after the answer left.
    setImmediate(() => {
      const now = new Date();
      for (const f of entry.entryFiles) utimes(f, now, now).catch(() => undefined);
    });
    return entry.messages;
  }

  /** Records a succeeded build's answer when it followed from the store alone and the store held still meanwhile. */
  async record(key: string, messages: ServerMessage[], build: StoreOnlyBuild, startedAt: number): Promise<void> {
    const manifestPath = this.content.path(build.manifestDigest as Digest);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { config?: { digest?: string }; layers?: { digest?: string }[] };
    const blobs = [manifest.config?.digest, ...(manifest.layers ?? []).map((l) => l.digest)];
    if (blobs.some((d) => typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d))) return;
    const entryFiles = build.keys.map((k) => resultEntryPath(this.paths.cacheIndex, k));
    const wanted: [string, Kind][] = [
      [path.join(this.paths.images, 'index.json'), 'file'],
      ...entryFiles.map((f): [string, Kind] => [f, 'entry']),
      ...[...new Set(entryFiles.map((f) => path.dirname(f)))].map((d): [string, Kind] => [d, 'dir']),
      [manifestPath, 'blob'],
      ...blobs.map((d): [string, Kind] => [this.content.path(d as Digest), 'blob']),
    ];
    const checks: Check[] = [];
    for (const [p, kind] of wanted) {
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) return;
      if ((kind === 'file' || kind === 'dir') && st.mtimeMs > startedAt - RACY_MS) return;
      checks.push({ path: p, kind, id: identityOf(st, kind) });
    }
    this.entries.set(key, { messages, checks, entryFiles });
  }
}

function identity(p: string, kind: Kind): string {
  const st = statSync(p, { throwIfNoEntry: false });
  return st ? identityOf(st, kind) : 'absent';
}

function identityOf(st: { ino: number; size: number; mtimeMs: number; dev: number }, kind: Kind): string {
  switch (kind) {
    // Replaced by rename on every change: a new inode, and a new mtime.
    case 'file': return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    case 'dir': return `${st.dev}:${st.ino}:${st.mtimeMs}`;
    // A cache entry's mtime is its last use (every build touches it): not a change.
    case 'entry': return `${st.dev}:${st.ino}:${st.size}`;
    // Content-addressed: being there is all that matters.
    case 'blob': return 'present';
  }
}

/** Requests whose answer can only depend on the request and the store. */
function memoizable(req: BuildRequest, settings: MemoSettings): boolean {
  const digestOnly = (c: Pick<BuildRequest, 'manifest' | 'manifestDelta'>) => c.manifest === undefined && c.manifestDelta === undefined;
  return req.call === 'build'
    && !req.noCache && req.noCacheFilter.length === 0 && !req.pull
    && !req.wantMetadata
    && req.outputs.every((o) => o.type === 'image' && !o.stream && o.attrs.every(([k, v]) => k !== 'push' || v === 'false'))
    && req.cacheFrom.length === 0 && req.cacheTo.length === 0
    && settings.cacheFrom.length === 0 && settings.cacheTo.length === 0
    && (req.buildContexts ?? []).length === 0
    && req.attestations === undefined
    // A client that sends a manifest has a changed context: it goes the whole way (and the server learns the manifest).
    && digestOnly(req) && (req.localContexts ?? []).every(digestOnly);
}
