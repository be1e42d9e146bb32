// The remote protocol between `tsbuild --host X ...` and `tsbuild serve`:
// HTTP/2 streams over one byte stream (unix socket, mutual-TLS TCP or an
// SSH channel). docs/remote-protocol.md describes it for other clients;
// this file is the single source of its names and shapes.

/** Versions this build speaks; a client sends them all, the server picks the highest it shares. */
export const PROTOCOL_VERSIONS: readonly number[] = [2, 3, 4, 5, 6];
/** The first version whose server syncs --build-context directories (BuildRequest.localContexts). */
export const LOCAL_CONTEXTS_SINCE = 3;
/** The first version whose server takes an OCI image layout on the client as a localContexts entry (LocalContextRef.ociLayout). */
export const OCI_LAYOUT_SINCE = 5;
/** The first version whose server answers the memo question on a raw connection (MEMO_WIRE_MAGIC), before any HTTP/2. */
export const MEMO_WIRE_SINCE = 6;
export const PROTOCOL_HEADER = 'tsbuild-protocol';
/** Set by the server on every answer: the version it picked. */
export const SERVER_VERSION_HEADER = 'tsbuild-server-version';

export const PATHS = {
  hello: '/v1/hello',
  blobs: '/v1/context/blobs',
  build: '/v1/build',
  /** The answer of an identical earlier build of an unchanged store, or memo-miss; never a build. */
  buildMemo: '/v1/build-memo',
  command: '/v1/command',
  /** + `<buildId>/<index>`: a streamed output (tar bytes). */
  output: '/v1/build-output/',
  /** + `<buildId>/<connId>`: one SSH agent connection, forwarded to the client. */
  sshConn: '/v1/build-ssh/',
} as const;

/**
 * The first bytes of a connection that asks the memo question without
 * HTTP/2 (docs/remote-protocol.md, "The memo question on a raw
 * connection"); a connection starting otherwise is HTTP/2, whose client
 * preface starts "PRI * HTTP/2.0". Both frames of the exchange start with
 * it, then a u32 big-endian length and that many bytes of UTF-8.
 */
export const MEMO_WIRE_MAGIC = 'TSBMEMO1';

/** The question's frame: the versions the client speaks and the build it would ask for (its context as the digest alone). */
export interface MemoWireQuestion {
  protocols: number[];
  request: BuildRequest;
}

/**
 * The first line of the answer's frame; after it, for a hit, the
 * messages of the recorded answer (from context-ready to result), one
 * JSON object per line as on the build stream.
 */
export interface MemoWireAnswer {
  server: string;
  /** The version picked, as the hello's; 0 when the question named none this server speaks (or was not readable). */
  protocol: number;
  answer: 'hit' | 'miss';
  /** For a hit. */
  buildId?: string;
  /** For a miss the server could not even look up (a malformed question, a version it does not share, shutting down). */
  reason?: string;
}

/** A JSON line or a batch record larger than this ends the request (a garbage-sending client). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The server's answer to `GET /v1/hello`. */
export interface Hello {
  server: string;        // tsbuild version
  protocol: number;      // the version picked for this connection
  protocols: number[];   // every version the server speaks
}

/** One file of the build context as the client sees it after .dockerignore. */
export interface ManifestEntry {
  path: string;          // relative, `/`-separated
  type: 'file' | 'dir' | 'symlink';
  mode: number;          // 0o7777 bits
  mtimeMs: number;
  size?: number;         // files
  digest?: string;       // files: sha256:<hex> of the bytes
  link?: string;         // symlinks
}

/** A manifest as changes to another one, known by its digest: entries added or changed, and paths removed. */
export interface ManifestDelta {
  base: string;
  upsert: ManifestEntry[];
  remove: string[];
}

/** A directory on the client that the build reads (--build-context NAME=DIR), synced as the main context is. */
export interface LocalContextRef {
  name: string;
  contextId: string;
  manifestDigest: string;
  manifest?: ManifestEntry[];
  manifestDelta?: ManifestDelta;
  /** Set for `oci-layout://DIR[@TAG]`: the directory is an OCI image layout, and the build's context is its image TAG (a tag or digest; the first image without). */
  ociLayout?: { tag?: string };
}

/** What the client asks the server to build; paths on the client never appear in it. */
export interface BuildRequest {
  /** Identifies the client's context directory, so the server keeps one warm copy of it. */
  contextId: string;
  /** manifestDigest() of the context's manifest: a server that holds that manifest needs nothing else. */
  manifestDigest: string;
  /** The manifest itself, when the client sends it at once (else the server asks with need-manifest). */
  manifest?: ManifestEntry[];
  /** Or how it differs from a manifest the client sent before (the server asks for the whole one if it lacks `base`). */
  manifestDelta?: ManifestDelta;
  dockerfile: { text: string; name: string };
  tags: string[];
  buildArgs: [string, string][];
  labels: [string, string][];
  target?: string;
  platforms: string[];
  noCache: boolean;
  noCacheFilter: string[];
  pull: boolean;
  /** `dest` removed; `stream`: the server sends the output back (fetched by its index in this list). */
  outputs: { type: string; attrs: [string, string][]; stream?: boolean }[];
  secrets: string[];     // ids only: values are fetched from the client while the build runs
  ssh: string[];         // ids only: agent connections are forwarded to the client
  cacheFrom: { type: string; attrs: [string, string][] }[];
  cacheTo: { type: string; attrs: [string, string][] }[];
  call: string;
  allow: string[];
  runtime: string;
  /** The client's SOURCE_DATE_EPOCH: reproducible builds do not depend on the server's environment. */
  sourceDateEpoch?: string;
  wantMetadata: boolean;
  // Optional fields added within version 2 (an older server ignores them;
  // an older client never sends them).
  /** --network for every RUN; `host` needs the server's --allow-insecure-entitlement. */
  network?: 'default' | 'none' | 'host';
  /** The client's TSBUILD_OFFLINE: the server contacts no registry for base images. */
  offline?: boolean;
  /** --annotation KEY=VALUE of the image manifest. */
  annotations?: [string, string][];
  /** --provenance / --attest type=provenance. */
  attestations?: { provenance?: { mode: 'min' | 'max'; builderId?: string } };
  /** --build-context NAME=VALUE whose VALUE the server resolves itself: docker-image://, target:, a git or http(s) URL. */
  buildContexts?: { name: string; value: string }[];
  /** --add-host, --ulimit, --shm-size, --cgroup-parent for every RUN. */
  runResources?: {
    addHosts: { host: string; ip: string }[];
    ulimits: { type: string; soft: number; hard: number }[];
    shmSize?: number;
    cgroupParent?: string;
  };
  // Added in version 3 (a client sends it only to a server that picked 3).
  /** --build-context NAME=DIR: each directory's manifest, synced before the build as the main context is. */
  localContexts?: LocalContextRef[];
}

/** Messages the client sends on the build stream (one JSON object per line). */
export type ClientMessage =
  | { type: 'build'; request: BuildRequest }
  | { type: 'secret'; reqId: number; data: string }           // base64
  | { type: 'secret-error'; reqId: number; message: string }
  | { type: 'manifest'; entries: ManifestEntry[]; context?: string } // answer to need-manifest (context: as asked)
  | { type: 'blobs-sent' }                                     // the contents need-blobs asked for were uploaded
  | { type: 'cancel' };

/** Messages the server sends on the build stream. */
export type ServerMessage =
  | { type: 'need-manifest'; context?: string }               // the server does not know the manifest's digest: send it (context: a localContexts name; none: the build context)
  | { type: 'need-blobs'; digests: string[]; context?: string } // upload these contents (POST blobs), then blobs-sent
  | { type: 'context-ready' }                                  // the context is in place; the build starts
  | { type: 'memo-miss' }                                      // build-memo only: no recorded answer for this request and store
  | { type: 'event'; record: Record<string, unknown> }        // a ProgressEvent; log data as base64 when `encoding` says so
  | { type: 'stderr'; text: string }                           // a line the build printed that is not an event
  | { type: 'stdout'; text: string }                           // --call reports, quiet's image id
  | { type: 'secret-request'; reqId: number; id: string }
  | { type: 'ssh-open'; connId: number; id: string }
  | { type: 'output'; index: number }                          // fetch output `index` now (a tar stream)
  | { type: 'result'; exitCode: number; imageId?: string; metadata?: Record<string, unknown>; error?: string; failure?: LocatedFailure };

/**
 * A failure located in the Dockerfile (a step that failed, a parse error):
 * its message and lines, so the client prints the same excerpt of its
 * Dockerfile as a local build. `error` still holds the one-line form.
 */
export interface LocatedFailure {
  message: string;
  line: number;
  endLine?: number;
}

/** Store commands a client may run on the server (their output streams back). */
export const REMOTE_COMMANDS: ReadonlySet<string> = new Set(['images', 'inspect', 'history', 'tag', 'rmi', 'push', 'pull', 'du', 'prune']);

/**
 * Why the server cannot resolve a --build-context value itself, or
 * undefined when it can: an image, a stage, an http(s) URL (a tarball or a
 * git repository). A directory or an OCI layout is a path on the client
 * (the server must never read its own paths for a client), and an SSH git
 * URL would be cloned with the server's keys.
 */
export function unresolvableContext(value: string): string | undefined {
  if (serverResolves(value)) return undefined;
  if (/^(git@|ssh:\/\/)/.test(value)) return 'a git URL over SSH is not supported with --host yet (the server would clone it with its own keys; use https)';
  return 'a directory or OCI layout on the client is sent by the client (localContexts), never named by its path';
}

/** A value the server resolves itself; anything else that is not refused is a directory on the client. */
export function serverResolves(value: string): boolean {
  return value.startsWith('docker-image://') || value.startsWith('target:') || /^(https?|git):\/\//.test(value) || value.startsWith('github.com/');
}

/** A --build-context value that names a directory on the client: a plain one, or an OCI layout (`oci-layout://DIR[@TAG]`). */
export function isClientDirectory(value: string): boolean {
  return !serverResolves(value) && !/^(git@|ssh:\/\/)/.test(value);
}

/** Picks the highest version both sides speak, or undefined. */
export function negotiate(offered: string | undefined): number | undefined {
  const theirs = (offered ?? '').split(',').map((v) => Number(v.trim())).filter((n) => Number.isInteger(n));
  return [...PROTOCOL_VERSIONS].sort((a, b) => b - a).find((v) => theirs.includes(v));
}
