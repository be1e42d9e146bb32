// The frontend's output: what the builder must do, with every variable
// already expanded and every config change already applied. Like BuildKit's
// LLB + image config split: filesystem work becomes steps (RUN, COPY/ADD,
// WORKDIR), metadata instructions only change the stage's image config and
// history.

export interface Platform {
  os: string;            // 'linux'
  architecture: string;  // 'amd64', 'arm64', ...
  variant?: string;      // 'v7', ...
}

export interface Location {
  file: string;          // 'Dockerfile' or the -f name, for messages
  line: number;          // 1-based first line of the instruction
  endLine: number;
  sourceLine: string;    // the instruction's first line as written
}

export interface HealthConfig {
  Test: string[];        // ['NONE'] | ['CMD', ...] | ['CMD-SHELL', cmd]
  Interval?: number;     // nanoseconds, as Docker stores them
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

// The OCI/Docker image config's `config` object, in Docker's field names.
export interface ContainerConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  Shell?: string[];
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created_by: string;
  comment?: string;
  empty_layer?: boolean;
}

// What the resolver tells the frontend about a base image (FROM, COPY --from=image).
export interface BaseImage {
  ref: string;                      // as resolved, e.g. 'docker.io/library/busybox:latest'
  digest?: string;                  // manifest digest, pinned into history/metadata
  platform: Platform;
  config: ContainerConfig;
  history: HistoryEntry[];
}

export type ResolveImage = (ref: string, platform: Platform) => Promise<BaseImage>;

export type StageBase =
  | { type: 'scratch' }
  | { type: 'image'; ref: string; image: BaseImage }
  | { type: 'stage'; index: number }
  // FROM NAME with --build-context NAME=<directory>: its files are the stage's first layer.
  | { type: 'context'; name: string };

// Where COPY --from / RUN --mount from= read; `name` is a --build-context
// directory (the main build context without one).
export type FileSource =
  | { type: 'context'; name?: string }
  | { type: 'stage'; index: number }
  | { type: 'image'; ref: string; image: BaseImage };

export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  target: string;                   // absolute (secret/ssh get their defaults filled in)
  source?: string;                  // path inside `from` (bind, cache)
  from?: FileSource;                // bind/cache: context by default for bind
  readonly: boolean;                // bind: true unless rw; cache: false unless ro
  id?: string;                      // cache (defaults to target), secret, ssh
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;                    // tmpfs bytes
  required?: boolean;               // secret, ssh
  env?: string;                     // secret exposed as an env var
}

export interface RunStep {
  kind: 'run';
  loc: Location;
  display: string;                  // e.g. 'RUN make' for progress output
  args: string[];                   // final argv (shell prepended for shell form)
  env: string[];                    // config env + visible build args, KEY=VALUE
  user: string;                     // '' means root; resolved to ids by the builder
  workdir: string;                  // absolute
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
  mounts: RunMount[];
  // Heredoc files BuildKit materialises for `RUN <<EOF` scripts with a shebang.
  files: { path: string; content: string; mode: number }[];
  // Build args the step can see, by name; they enter the cache key via env.
  visibleArgs: string[];
}

export interface CopyStep {
  kind: 'copy';
  loc: Location;
  display: string;
  add: boolean;                     // ADD: archives unpacked, URLs fetched
  from: FileSource;
  sources: string[];                // expanded source paths/patterns/URLs
  heredocs: { name: string; content: string }[];  // inline sources
  dest: string;                     // absolute (resolved against WORKDIR); trailing '/' kept
  workdir: string;
  chown?: string;                   // 'user[:group]' (names resolved by the builder)
  chmod?: string;
  link: boolean;
  parents: boolean;
  exclude: string[];
  checksum?: string;
  keepGitDir: boolean;
  unpack?: boolean;                 // ADD --unpack
}

export interface WorkdirStep {
  kind: 'workdir';
  loc: Location;
  display: string;
  path: string;                     // absolute
  user: string;                     // BuildKit creates it owned by the current USER
}

export type Step = RunStep | CopyStep | WorkdirStep;

export interface StagePlan {
  index: number;                    // position in the Dockerfile
  name?: string;                    // `AS name`, lower-cased
  loc: Location;                    // of the FROM line
  base: StageBase;
  platform: Platform;
  steps: Step[];
  // The full config after the stage's last instruction (base config + changes).
  config: ContainerConfig;
  // The base image's history followed by one entry per instruction that
  // records one; entries whose empty_layer is not true match `steps` in
  // order. The builder marks a step's entry empty when its diff is empty
  // (e.g. WORKDIR on a directory that exists), as BuildKit's exporter does.
  history: HistoryEntry[];
}

export interface LintWarning {
  rule: string;                     // BuildKit's rule names: 'LegacyKeyValueFormat', 'FromAsCasing', ...
  message: string;
  loc?: Location;
  url?: string;
}

export interface BuildGraph {
  // The stages the target needs, in an order where each stage comes after
  // those it depends on; the last one is the target.
  stages: StagePlan[];
  target: StagePlan;
  // Stages BuildKit's progress counts: every stage of the Dockerfile plus an
  // implicit one per image read by COPY --from / RUN --mount from=. With
  // just one, step names carry no stage name (`[2/4] RUN ...`).
  stageCount: number;
  buildArgsUsed: string[];
  unusedBuildArgs: string[];        // --build-arg names no ARG consumed (a warning)
  warnings: LintWarning[];
}

/**
 * A `--build-context NAME=...`, as the builder resolved it: an image
 * (docker-image://, oci-layout:// once loaded), another stage (target:), or a
 * directory. `FROM NAME` and `COPY --from=NAME` read it instead of the image
 * or stage that NAME would otherwise mean.
 */
export type NamedContext =
  | { type: 'image'; ref: string }
  | { type: 'stage'; name: string }
  | { type: 'local' };
