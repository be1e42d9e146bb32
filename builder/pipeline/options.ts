// A build as a library call: what it is asked to build (BuildOptions), how
// it talks to its caller (BuildIO) and what it gives back (BuildResult).
// Nothing here refers to a process, a terminal or the environment: the CLI
// (cli/commands/build.ts), the public entry point (builder/index.ts) and a
// build server each fill these in their own way.
import type { Writable } from 'node:stream';
import type { CacheSpec } from '../cache-io/spec.js';
import type { Limiter } from '../concurrency.js';
import type { OutputSpec } from '../exporters/types.js';
import type { ProgressEvent } from '../progress/events.js';
import type { ProgressMode } from '../progress/types.js';
import type { SecretProvider, SshProvider } from '../steps/types.js';
import type { RunResources } from '../steps/run-resources.js';
import type { ContextWalkEntry } from '../context/context.js';

export type { CacheSpec } from '../cache-io/spec.js';
export type { OutputSpec, OutputType } from '../exporters/types.js';
import type { SecretSpec, SshSpec } from '../providers/local.js';
export type { SecretSpec, SshSpec } from '../providers/local.js';
export type { SecretProvider, SshProvider } from '../steps/types.js';
export type { ProgressEvent, ProgressVertex } from '../progress/events.js';

export type CallMode = 'build' | 'outline' | 'targets' | 'check';

import type { AttestationRequest } from '../attestations/provenance.js';

export interface BuildOptions {
  /** The local store's root directory (see docs/store.md). */
  storeRoot: string;
  contextDir: string;
  dockerfilePath?: string;        // undefined when the Dockerfile came from elsewhere (stdin)
  dockerfileText: string;
  dockerfileName: string;         // for messages: 'Dockerfile', 'app.Dockerfile', ...
  tags: string[];
  buildArgs: Map<string, string>;
  labels: Map<string, string>;
  target?: string;
  platforms: string[];
  noCache: boolean;
  noCacheFilter: string[];
  pull: boolean;
  /** TSBUILD_OFFLINE: contact no registry for base images (missing ones fail; `--call` checks them without their config). */
  offline?: boolean;
  outputs: OutputSpec[];          // none: type=image (the local store)
  cacheFrom: CacheSpec[];
  cacheTo: CacheSpec[];
  allow: string[];                // entitlements, e.g. 'security.insecure'
  runtime: 'native' | 'runc' | 'crun';   // what runs RUN steps: our sandbox, or an installed OCI runtime
  network?: 'default' | 'none' | 'host';  // RUN's network unless a RUN says --network; host needs 'network.host' in allow
  /** Steps run at once; ignored when `limiter` is given. Default: the number of CPUs. */
  jobs?: number;
  /** Step slots shared with other builds, so a server bounds all of them with one limit. */
  limiter?: Limiter;
  /** The caller's SOURCE_DATE_EPOCH (its environment); a build arg of that name wins. */
  sourceDateEpoch?: string;
  /** The store's size limit enforced after the build (`10GB`, `off`); wins over `<store>/config.json`. */
  keepStorage?: string;
  /** --annotation KEY=VALUE: annotations of the image manifest. */
  annotations?: Map<string, string>;
  /** --provenance / --attest: attached to the oci, docker and registry outputs (never to the local store). */
  attestations?: AttestationRequest;
  /**
   * Names the build context's content (a build server's manifest digest):
   * builds given the same value promise identical contexts, so this
   * process checksums each COPY of it once (builder/context/selection-memo.ts).
   */
  contextDigest?: string;
  /** --build-context NAME=VALUE, in order (resolved when the build starts: pipeline/named-contexts.ts). */
  buildContexts?: { name: string; value: string }[];
  /**
   * Contexts whose directories hold exactly what a client chose to send (a
   * build server's synced copies, already seen through the client's ignore
   * files): no ignore file is applied to them again. `''` is the build
   * context, other entries --build-context names.
   */
  prefilteredContexts?: readonly string[];
  /** --add-host, --ulimit, --shm-size, --cgroup-parent for every RUN. */
  runResources?: RunResources;
}

export interface BuildIO {
  /** Progress, as the records of --progress=rawjson (see progress/events.ts). */
  onEvent?(e: ProgressEvent): void;
  /** Called once the build's inputs were checked and it starts work (store opened, lease taken). */
  onStart?(): void;
  /**
   * Told each walk a COPY of the build context made for its checksum: the
   * entries as found, with their stats. `whole`: a COPY of all of it (`.`),
   * the root first (their digests filled in by the time the build ends
   * where the checksum needed them). The CLI's memo takes its context
   * snapshot from a whole walk instead of a walk of its own, and gives up
   * early when an entry any walk saw changed too recently to be trusted.
   */
  onContextWalk?(entries: readonly ContextWalkEntry[], whole: boolean): void;
  /**
   * The build context's whole walk (COPY .), kept in this process ('keep':
   * a build the CLI records afterwards) or taken from the one kept instead
   * of walking again ('reuse': the recording's second solve, right after,
   * builder/cli/local-memo-record.ts; see context/recent-selections.ts for
   * why that stays exact). A user's build never reuses.
   */
  contextWalk?: 'keep' | 'reuse';
  /**
   * Called when a RUN's command started and the build only waits for it
   * (once per RUN): the moment for work of the caller's own that would
   * otherwise follow the build and hold its end back. The CLI's memo walks
   * the context then (cli/local-memo-record.ts).
   */
  onIdle?(): void;
  /** Cancellation: running steps are killed, mounts and leases released; build() rejects with a CANCELED error. */
  signal?: AbortSignal;
  /** RUN --mount=type=secret; none: no secrets. */
  secrets?: SecretProvider;
  /** RUN --mount=type=ssh; none: no agents. */
  ssh?: SshProvider;
  /** Where tar-like outputs go instead of the file named by dest (dest=- above all). */
  openOutput?(dest: string, kind: 'oci' | 'docker' | 'tar'): Promise<Writable | undefined>;
  /** Where --call outline/targets/check write their report. */
  stdout?: { write(text: string): unknown };
  /** Where --call writes notes beside its report (a base image checked without its config). */
  stderr?: { write(text: string): unknown };
}

export interface BuildResult {
  /** The config digest (docker's image ID). */
  imageId: string;
  manifestDigest: string;
  /** What --metadata-file holds, with buildx's key names (`containerimage.descriptor` is an object). */
  metadata: Record<string, unknown>;
  /** Lint and build warnings, also sent as 'warning' events. */
  warnings: string[];
  /**
   * Set when the result followed from the local store alone (every step
   * from the local cache index, nothing fetched): the cache keys it read
   * (pipeline/store-only.ts).
   */
  storeOnlyKeys?: string[];
  /**
   * The local cache index's keys the build found or wrote (set with
   * storeOnlyKeys' conditions but for a build that ran steps too): what
   * the same build asked again reads (cli/local-memo-record.ts).
   */
  cacheKeys?: string[];
}

/** What `tsbuild build` was asked (the CLI's parsed flags): the build itself, plus what only the client handles. */
export interface CliBuildRequest {
  build: BuildOptions;
  call: CallMode;
  progress: ProgressMode;
  iidFile?: string;
  metadataFile?: string;
  secrets: SecretSpec[];
  ssh: SshSpec[];
}
