// The context of one remote build, agreed on the build stream before the
// build starts: the request names the client's manifest by digest; a
// server that does not hold that manifest asks for it (need-manifest), and
// for the file contents it lacks (need-blobs, uploaded on other streams).
// A client whose context did not change sends the digest and nothing else.
import { RemoteError } from '../remote/errors.js';
import type { BuildRequest } from '../remote/protocol.js';
import type { BuildSession } from './build-session.js';
import type { ContextCache, MaterializedContext } from './context-cache.js';

export async function syncContext(contexts: ContextCache, req: BuildRequest, session: BuildSession): Promise<MaterializedContext> {
  let manifest = req.manifest === undefined ? contexts.knownManifest(req.manifestDigest) : undefined;
  if (!manifest) {
    const entries = req.manifest ?? (await session.ask({ type: 'need-manifest' }, 'manifest')).entries;
    const digest = contexts.acceptManifest(entries);
    if (digest !== req.manifestDigest) throw new RemoteError('REMOTE_PROTOCOL', `the context manifest does not match its digest (${req.manifestDigest}; computed ${digest})`);
    manifest = entries;
  }
  const context = await contexts.materialize(req.contextId, manifest, {
    digest: req.manifestDigest,
    fetch: async (digests) => void (await session.ask({ type: 'need-blobs', digests }, 'blobs-sent')),
  });
  session.send({ type: 'context-ready' });
  return context;
}
