// COPY and ADD: the step's cache key comes from the content of the files
// it selects (never their mtimes), and it runs through fileops' in-root
// copier on a writable overlay of the parent.
import { createHash } from '../../runner-native/native-crypto.js';
import type { CopyStep } from '../../frontend/graph/types.js';
import type { ContentHashCache, SelectionOptions } from '../context/checksum.js';
import { BuildContext } from '../context/context.js';
import type { CopySource } from '../fileops/copy.js';
import type { FileReuse } from '../fileops/file-reuse.js';
import { snapshotIdentity } from '../../cache/layer-index.js';
import type { CommitIndexOptions, LayerRecord } from '../snapshots/snapshot-store.js';
import { isHttpUrl } from '../fileops/fetch-url.js';
import { parseGitUrl, resolveGitCommit } from '../fileops/git-clone.js';
import { isGitSource } from '../fileops/sources.js';
import { DirectorySource } from '../fileops/source-tree.js';
import type { StepEnv } from './types.js';
import type { StepResult } from '../store/step-result.js';
import { mountReadonlyRootfs, withMutableRootfs } from './rootfs.js';

export function copySources(step: CopyStep): CopySource[] {
  return [...step.sources, ...step.heredocs.map((h) => ({ heredoc: { name: h.name, content: h.content } }))];
}

// What a remote file is, as far as a cheap HEAD can tell; with no validator
// the key gets a nonce so that a possibly changed file is fetched again.
async function urlValidator(url: string): Promise<string> {
  try {
    // Loaded here: most builds never ADD a URL (see fileops/fetch-url.ts).
    const { header, send } = await import('../registry/http.js');
    const res = await send({ method: 'HEAD', url: new URL(url), signal: AbortSignal.timeout(10_000) });
    res.body.resume();
    const [etag, modified, length] = ['etag', 'last-modified', 'content-length'].map((h) => header(res, h) ?? null);
    const v = [res.status, etag, modified, length].join('|');
    if (res.status >= 200 && res.status <= 299 && (etag || modified)) return v;
  } catch {
    // Unreachable now: the copy itself will report it.
  }
  return `nonce:${Math.random()}`;
}

/** The checksum of what these patterns select in the step's context (builder/context/checksum.ts). */
export type SelectionChecksum = (patterns: readonly string[], options: Pick<SelectionOptions, 'exclude' | 'parents'>) => Promise<string>;

export async function describeCopy(step: CopyStep, checksum: SelectionChecksum): Promise<unknown> {
  const git = step.add ? step.sources.filter((s) => isGitSource(s)) : [];
  const local = step.sources.filter((s) => !isHttpUrl(s) && !git.includes(s));
  const urls = step.sources.filter((s) => isHttpUrl(s) && !git.includes(s));
  const content = step.from.type === 'context' && local.length > 0
    ? await checksum(local, { exclude: step.exclude, parents: step.parents })
    : undefined;
  return {
    op: step.add ? 'add' : 'copy',
    sources: step.sources,
    // Files from another stage or image are keyed by that input's own key.
    content,
    urls: step.checksum ? undefined : await Promise.all(urls.map(urlValidator)),
    // A git source is keyed by the commit its ref names now.
    git: git.length > 0 ? await Promise.all(git.map(async (g) => { const { remote, ref } = parseGitUrl(g); return resolveGitCommit(remote, ref); })) : undefined,
    heredocs: step.heredocs.map((h) => ({ name: h.name, sha: createHash('sha256').update(h.content).digest('hex') })),
    dest: step.dest, workdir: step.workdir, chown: step.chown, chmod: step.chmod, link: step.link,
    parents: step.parents, exclude: step.exclude, checksum: step.checksum, keepGitDir: step.keepGitDir, unpack: step.unpack,
  };
}

export interface CopyInputs {
  step: CopyStep;
  parent: StepResult;
  // The source stage's or image's result for COPY --from.
  from: StepResult | undefined;
  context: () => Promise<BuildContext>;
  signal: AbortSignal;
  // The result of this step's previous build, if one is remembered.
  previous?: (step: CopyStep) => Promise<StepResult | undefined>;
  /** The context files' digests by stat identity (those the cache key was made from). */
  hashCache?: ContentHashCache;
}

// The layer this COPY added last time, if its snapshot is on disk.
async function previousLayer(env: StepEnv, step: CopyStep, previous: CopyInputs['previous']): Promise<LayerRecord | undefined> {
  const result = await previous?.(step).catch(() => undefined);
  const layer = result?.layers.at(-1);
  if (!layer || result?.stepAdded.at(-1) !== true) return undefined;
  return (await env.store.snapshots.has(layer.diffId)) ? layer : undefined;
}

export async function runCopy(env: StepEnv, { step, parent, from, context, signal, previous, hashCache }: CopyInputs): Promise<StepResult> {
  const { store } = env;
  // The previous layer and its index are looked up while the views are
  // mounted (the source's too, for COPY --from): each of these waits on
  // the fsop helper or the threadpool, none needs another.
  const previousLookup = previousLayer(env, step, previous).then(async (record) => ({ record, index: record && await store.snapshots.layerIndex(record) }));
  previousLookup.catch(() => undefined); // awaited in the copy
  // What the copier linked from the previous snapshot: the commit reads those files' data from the previous blob.
  const linked = new Map<string, string>();
  const indexOptions: CommitIndexOptions = { linked };
  const doCopy = (getSource: () => Promise<BuildContext | DirectorySource>) => withMutableRootfs(store, parent, env.sourceDateEpoch, async (root, ws, directUpper) => {
    // The copier (and its archive/tar code) loads only when a COPY runs.
    const [{ copy }, source, { record: previousLayerRecord, index: previousIndex }] = await Promise.all([import('../fileops/copy.js'), getSource(), previousLookup]);
    // The commit indexes the new layer against the previous one.
    indexOptions.previous = previousLayerRecord;
    // Reuse links files into ws.upper itself: only where the view is the kernel's overlay of it.
    const previousDir = previousLayerRecord && store.snapshots.dirOf(previousLayerRecord.diffId);
    const reuse: FileReuse | undefined = previousLayerRecord && previousDir && directUpper ? {
      previousDir, mergedDir: root, upperDir: ws.upper,
      previousIndex, linked,
      // Written for this very snapshot dir (not one made again since): its files need no lstat.
      indexDescribesSnapshot: previousIndex?.snapshot !== undefined && previousIndex.snapshot === snapshotIdentity(previousDir),
      // Digests the context checksum already took (by stat identity): an unchanged file needs no read.
      sourceDigest: hashCache && source instanceof BuildContext ? (host, st) => hashCache.get(host, st) : undefined,
    } : undefined;
    // A COPY's copier keeps `linked` exact (a path it writes again is
    // dropped from it); ADD also unpacks archives over what it wrote.
    indexOptions.linkedExact = !step.add && reuse?.indexDescribesSnapshot === true;
    await copy({
      instruction: step.add ? 'ADD' : 'COPY',
      sources: copySources(step),
      dest: step.dest, workdir: step.workdir, chown: step.chown, chmod: step.chmod, link: step.link,
      parents: step.parents, exclude: step.exclude, checksum: step.checksum, unpack: step.unpack, keepGitDir: step.keepGitDir,
    }, { destRoot: root, source, tmpDir: store.paths.state, signal, reuse });
  }, indexOptions, env.layerWrites);
  if (step.from.type === 'context') return doCopy(context);
  if (!from) throw new Error('COPY --from without its source result');
  // The source's read-only view is mounted alongside the step's own.
  const sourceView = mountReadonlyRootfs(store, from);
  sourceView.catch(() => undefined); // awaited in the copy, or released below
  const description = step.from.type === 'stage' ? `stage ${step.from.index}` : 'image';
  try {
    return await doCopy(async () => new DirectorySource((await sourceView).root, { description }));
  } finally {
    await sourceView.then((view) => view.release(), () => undefined);
  }
}
