// The context of one remote build, agreed on the build stream before the
// build starts: the request names the client's manifest by digest, and
// carries it whole, as changes to a manifest it sent before, or not at
// all. A server that cannot tell the manifest from that asks for it
// (need-manifest), then for the file contents it lacks (need-blobs,
// uploaded on other streams). A client whose context did not change sends
// the digest and nothing else. A --build-context directory (localContexts)
// is synced the same way, its questions naming it.
import { RemoteError } from '../remote/errors.js';
import type { BuildRequest, ManifestDelta, ManifestEntry } from '../remote/protocol.js';
import type { BuildSession } from './build-session.js';
import type { ContextCache, MaterializedContext } from './context-cache.js';

type ContextRef = Pick<BuildRequest, 'contextId' | 'manifestDigest' | 'manifest' | 'manifestDelta'>;

/** `name`: a localContexts entry's; none for the build context. */
export async function syncContext(contexts: ContextCache, req: ContextRef, session: BuildSession, name?: string): Promise<MaterializedContext> {
  const which = name === undefined ? {} : { context: name };
  let manifest = contexts.knownManifest(req.manifestDigest);
  if (!manifest && req.manifest !== undefined) manifest = accepted(contexts, req.manifest, req.manifestDigest);
  if (!manifest && req.manifestDelta !== undefined) {
    const merged = applyDelta(contexts, req.manifestDelta);
    // A delta the server cannot apply, or one that does not give the
    // digest (another order, say), costs a round trip, never a wrong tree.
    if (merged && contexts.acceptManifest(merged) === req.manifestDigest) manifest = merged;
  }
  if (!manifest) {
    const answer = await session.ask({ type: 'need-manifest', ...which }, 'manifest');
    if (answer.context !== name) throw new RemoteError('REMOTE_PROTOCOL', `asked for the manifest of ${name ?? 'the build context'}, got ${answer.context ?? 'the build context'}'s`);
    manifest = accepted(contexts, answer.entries, req.manifestDigest);
  }
  return contexts.materialize(req.contextId, manifest, {
    digest: req.manifestDigest,
    fetch: async (digests) => void (await session.ask({ type: 'need-blobs', digests, ...which }, 'blobs-sent')),
  });
}

function accepted(contexts: ContextCache, entries: unknown, digest: string): ManifestEntry[] {
  const computed = contexts.acceptManifest(entries);
  if (computed !== digest) throw new RemoteError('REMOTE_PROTOCOL', `the context manifest does not match its digest (${digest}; computed ${computed})`);
  return entries as ManifestEntry[];
}

/** The base manifest with the delta's changes, in walk order; undefined without the base. */
function applyDelta(contexts: ContextCache, delta: ManifestDelta): ManifestEntry[] | undefined {
  if (typeof delta !== 'object' || delta === null || !Array.isArray(delta.upsert) || !Array.isArray(delta.remove)) throw new RemoteError('REMOTE_PROTOCOL', 'malformed manifest delta');
  const base = typeof delta.base === 'string' ? contexts.knownManifest(delta.base) : undefined;
  if (!base) return undefined;
  const byPath = new Map(base.map((e) => [e.path, e]));
  for (const p of delta.remove) byPath.delete(String(p));
  for (const e of delta.upsert) byPath.set(String((e as { path?: unknown })?.path), e);
  // Depth first, names in byte order, parents first: the client's walk order.
  const keyed = [...byPath.values()].map((e) => ({ e, parts: String(e?.path).split('/') }));
  keyed.sort((a, b) => {
    const n = Math.min(a.parts.length, b.parts.length);
    for (let i = 0; i < n; i++) if (a.parts[i] !== b.parts[i]) return a.parts[i]! < b.parts[i]! ? -1 : 1;
    return a.parts.length - b.parts.length;
  });
  return keyed.map((k) => k.e);
}
