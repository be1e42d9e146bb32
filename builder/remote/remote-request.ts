// The build request a remote build sends (protocol.ts's BuildRequest), made
// from the flags a local build reads, and the checks of what a server
// cannot do, made before anything is sent. No connection here: the memo
// question on a raw connection (memo-wire.ts) sends the same request.
import type { BuildOptions, CliBuildRequest, OutputSpec } from '../pipeline/options.js';
import { RemoteError } from './errors.js';
import type { ContextManifest } from './context-manifest.js';
import { isClientDirectory, unresolvableContext, type BuildRequest, type LocalContextRef } from './protocol.js';
import { ociLayoutOf } from '../pipeline/oci-layout-spec.js';

export const STREAMED = new Set(['local', 'tar', 'oci', 'docker']);

/** The request of the build as if its context were as the last build saw it (`digest`): the question to the server's memo. */
export function memoRequest(req: CliBuildRequest, contextId: string, digest: string): BuildRequest {
  return toRequest(req, { contextId, digest, unchanged: true } as ContextManifest, new Map());
}

export function toRequest(req: CliBuildRequest, manifest: ContextManifest, locals: Map<string, ContextManifest>): BuildRequest {
  const opts = req.build;
  return {
    ...contextRef(manifest),
    dockerfile: { text: opts.dockerfileText, name: opts.dockerfileName },
    tags: opts.tags,
    buildArgs: [...opts.buildArgs],
    labels: [...opts.labels],
    target: opts.target,
    platforms: opts.platforms,
    noCache: opts.noCache,
    noCacheFilter: opts.noCacheFilter,
    pull: opts.pull,
    outputs: opts.outputs.map((o) => ({ type: o.type, attrs: [...o.attrs].filter(([k]) => k !== 'dest'), stream: STREAMED.has(o.type) || undefined })),
    secrets: req.secrets.map((s) => s.id),
    ssh: req.ssh.map((s) => s.id),
    cacheFrom: opts.cacheFrom.map((c) => ({ type: c.type, attrs: [...c.attrs] })),
    cacheTo: opts.cacheTo.map((c) => ({ type: c.type, attrs: [...c.attrs] })),
    call: req.call,
    allow: opts.allow,
    runtime: opts.runtime,
    sourceDateEpoch: opts.sourceDateEpoch,
    wantMetadata: req.metadataFile !== undefined,
    ...optionalFields(opts),
    ...(locals.size > 0 ? { localContexts: [...locals].map(([name, m]) => localRef(name, m, opts.buildContexts)) } : {}),
  };
}

// The digest alone when nothing changed: a server that built this context
// as it is now needs nothing more, and one that does not asks for the list
// (need-manifest). A changed context comes as its changes since the last
// build, or whole.
function contextRef(m: ContextManifest): Omit<LocalContextRef, 'name'> {
  return { contextId: m.contextId, manifestDigest: m.digest, ...(m.unchanged ? {} : deltaOrWhole(m)) };
}

export function localRef(name: string, m: ContextManifest, contexts: BuildOptions['buildContexts']): LocalContextRef {
  const layout = ociLayoutOf(contexts?.find((c) => c.name === name)?.value ?? '');
  return { name, ...contextRef(m), ...(layout ? { ociLayout: layout.tag === undefined ? {} : { tag: layout.tag } } : {}) };
}

// Fields an older server does not know are sent only when set, so a
// default build's request is the same as before they existed.
function optionalFields(opts: BuildOptions): Partial<BuildRequest> {
  const r = opts.runResources;
  const hasResources = r && (r.addHosts.length > 0 || r.ulimits.length > 0 || r.shmSize !== undefined || r.cgroupParent !== undefined);
  // Directories on the client travel as localContexts, never as paths.
  const serverContexts = (opts.buildContexts ?? []).filter((c) => !isClientDirectory(c.value));
  return {
    ...(opts.network && opts.network !== 'default' ? { network: opts.network } : {}),
    ...(opts.offline ? { offline: true } : {}),
    ...(opts.annotations && opts.annotations.size > 0 ? { annotations: [...opts.annotations] } : {}),
    ...(opts.attestations?.provenance ? { attestations: { provenance: { ...opts.attestations.provenance } } } : {}),
    ...(serverContexts.length > 0 ? { buildContexts: serverContexts.map((c) => ({ ...c })) } : {}),
    ...(hasResources ? { runResources: { ...r } } : {}),
  };
}

/** Flags the server cannot honour are refused here, before anything is sent. */
export function checkBuildContexts(contexts: BuildOptions['buildContexts']): void {
  for (const { name, value } of contexts ?? []) {
    const why = isClientDirectory(value) ? undefined : unresolvableContext(value);
    if (why) throw new RemoteError('REMOTE_UNSUPPORTED', `--build-context ${name}=${value}: ${why}`);
  }
}

function deltaOrWhole(manifest: ContextManifest): Pick<BuildRequest, 'manifest' | 'manifestDelta'> {
  const delta = manifest.delta();
  if (delta && delta.upsert.length + delta.remove.length < manifest.entries().length / 2) return { manifestDelta: delta };
  return { manifest: manifest.entries() };
}


/** Every streamed output needs a dest here, checked before anything is sent. */
export function checkOutputs(outputs: OutputSpec[]): void {
  for (const o of outputs) {
    if (STREAMED.has(o.type) && !o.attrs.get('dest')) throw new RemoteError('REMOTE_ADDRESS', `--output type=${o.type} needs dest=<path>`);
  }
}

