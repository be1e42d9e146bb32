// What steps need from the build around them, built once per build at the
// top (pipeline/build.ts) and handed down: steps never see the caller's
// options, the process environment or the CLI.
import type { CopyStep, RunStep, WorkdirStep } from '../../frontend/graph/types.js';
import type { SandboxRuntime } from '../../runner-native/index.js';
import type { ExecContext } from '../solver/vertex.js';
import type { Store } from '../store/open-store.js';
import type { StepResult } from '../store/step-result.js';
import type { RunResources } from './run-resources.js';
import type { LayerWrites } from '../snapshots/pending-layer.js';

/** `RUN --mount=type=secret`: asked only while a step that mounts the secret runs. */
export interface SecretProvider {
  /** The secret's bytes, or undefined when the caller has no secret of that id. */
  getSecret(id: string): Promise<Buffer | undefined>;
}

/** `RUN --mount=type=ssh`: an SSH agent socket on this host for the build's duration. */
export interface SshProvider {
  /** A unix socket path, or undefined when nothing is forwarded under that id. */
  agentSocket(id: string): Promise<string | undefined>;
}

export interface StepEnv {
  store: Store;
  /** What runs RUN steps: our sandbox, or an installed OCI runtime. */
  runtime: SandboxRuntime;
  /** SOURCE_DATE_EPOCH, parsed once: clamps every timestamp a step writes. */
  sourceDateEpoch: number | undefined;
  /** Granted entitlements (`--allow`), e.g. 'security.insecure'. */
  entitlements: ReadonlySet<string>;
  /** RUN's network where a RUN names none (`build --network`); default: 'default', a namespace of its own. */
  network?: 'default' | 'none' | 'host';
  secrets: SecretProvider;
  ssh: SshProvider;
  /** --add-host, --ulimit, --shm-size, --cgroup-parent for every RUN. */
  runResources?: RunResources;
  /** Where steps' layers are written in the background; without it each step writes its own before it ends. */
  layerWrites?: LayerWrites;
  /** BuildIO.onIdle. */
  onIdle?: () => void;
}

// The operations the solver's vertices delegate to (builder/steps/*), kept
// behind an interface so that pipeline/vertices.ts only decides the
// graph's shape and keys.
export interface StepRunner {
  imageLayers(manifestDigest: string | undefined, ref: string): Promise<StepResult>;
  // Unpacks the image's layers that have no snapshot yet, reporting each as
  // a status line of the FROM step (`extracting sha256:... 1.2s done`).
  extractLayers(result: StepResult, ctx: ExecContext<StepResult>): Promise<void>;
  describeImage(manifestDigest: string | undefined, ref: string): Promise<unknown>;
  describeContextBase(name: string): Promise<unknown>;
  contextBase(name: string, ctx: ExecContext<StepResult>): Promise<StepResult>;
  describeCopy(step: CopyStep): Promise<unknown>;
  copy(step: CopyStep, parent: StepResult, from: StepResult | undefined, ctx: ExecContext<StepResult>): Promise<StepResult>;
  workdir(step: WorkdirStep, parent: StepResult, ctx: ExecContext<StepResult>): Promise<StepResult>;
  describeRun(step: RunStep): Promise<unknown>;
  run(step: RunStep, parent: StepResult, mountSources: StepResult[], ctx: ExecContext<StepResult>): Promise<StepResult>;
}
