/**
 * Typed, validated Dockerfile instructions: a discriminated union on `kind`.
 *
 * Values that BuildKit expands later (see ./expansion.ts) are kept as raw
 * strings here, quotes and `$VAR` intact; they were validated only where no
 * `$` was involved. Everything else is final.
 */
import type { ParserDirectives, ParserWarning } from '../parser/types.js';

export interface InstructionLocation {
  readonly file?: string;
  /** 1-based first and last physical line (the last includes heredoc bodies). */
  readonly startLine: number;
  readonly endLine: number;
  /** First physical line as written. */
  readonly sourceLine: string;
}

interface Common {
  /** The keyword as written (`run`, `RUN`...). */
  readonly keyword: string;
  /** The logical line (continuations joined), e.g. for build history. */
  readonly original: string;
  /** Raw flags as written (after quote removal), e.g. `--mount=type=cache,target=/x`. */
  readonly rawFlags: readonly string[];
  readonly location: InstructionLocation;
  /** Comment lines directly above the instruction. */
  readonly comments: readonly string[];
}

/** A heredoc body used as a file (COPY/ADD source) or script (RUN). */
export interface HeredocFile {
  readonly name: string;
  /** Body with `<<-` leading tabs already removed. */
  readonly content: string;
  /** False for a quoted terminator (`<<'EOF'`): the body is used verbatim. */
  readonly expand: boolean;
  readonly chomp: boolean;
  readonly fileDescriptor: number;
}

/**
 * A command line. Shell form is run through the SHELL (`/bin/sh -c`);
 * `heredocs` are the bodies referenced from it (RUN only).
 */
export type CommandLine =
  | { readonly form: 'shell'; readonly command: string; readonly heredocs: readonly HeredocFile[] }
  | { readonly form: 'exec'; readonly args: readonly string[] };

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  /** The `--mount=` value as written; re-parse it with an expander once variables are known. */
  readonly raw: string;
  /** True when some field still holds `$` and awaits expansion (then cross-field checks were skipped). */
  readonly needsExpansion: boolean;
  readonly type: MountType;
  readonly target?: string;
  readonly source?: string;
  readonly from?: string;
  readonly readOnly: boolean;
  readonly id?: string;
  readonly sharing?: CacheSharing;
  readonly required: boolean;
  /** Bytes (tmpfs `size=`). */
  readonly sizeLimit?: number;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Secret exposed as this environment variable (`env=`). */
  readonly env?: string;
}

export type NetworkMode = 'default' | 'none' | 'host';
export type SecurityMode = 'sandbox' | 'insecure';

export interface KeyValue {
  /** Raw key and value (quotes and `$` intact; the word expander removes quotes). */
  readonly key: string;
  readonly value: string;
}

export interface ArgDefinition {
  readonly key: string;
  /** Raw default value; undefined for `ARG name`. */
  readonly value?: string;
}

export type CopySource =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'heredoc'; readonly file: HeredocFile };

export interface ExposedPort {
  /** Raw text; when it holds `$` the other fields are absent until expansion. */
  readonly raw: string;
  readonly port?: number;
  /** Last port of a range `8000-8010`. */
  readonly endPort?: number;
  readonly protocol?: 'tcp' | 'udp' | 'sctp';
}

export interface FromInstruction extends Common {
  readonly kind: 'FROM';
  /** Raw image reference or stage name (may hold `$` from meta ARGs). */
  readonly image: string;
  /** Lower-cased `AS name`. */
  readonly stageName?: string;
  /** Raw `--platform` value. */
  readonly platform?: string;
}

export interface RunInstruction extends Common {
  readonly kind: 'RUN';
  readonly command: CommandLine;
  readonly mounts: readonly RunMount[];
  readonly network: NetworkMode;
  readonly security: SecurityMode;
}

export interface CmdInstruction extends Common {
  readonly kind: 'CMD';
  readonly command: CommandLine;
}

export interface EntrypointInstruction extends Common {
  readonly kind: 'ENTRYPOINT';
  readonly command: CommandLine;
}

export interface ShellInstruction extends Common {
  readonly kind: 'SHELL';
  readonly shell: readonly string[];
}

export interface EnvInstruction extends Common {
  readonly kind: 'ENV';
  readonly pairs: readonly KeyValue[];
}

export interface LabelInstruction extends Common {
  readonly kind: 'LABEL';
  readonly pairs: readonly KeyValue[];
}

export interface ArgInstruction extends Common {
  readonly kind: 'ARG';
  readonly args: readonly ArgDefinition[];
}

export interface ExposeInstruction extends Common {
  readonly kind: 'EXPOSE';
  readonly ports: readonly ExposedPort[];
}

export interface VolumeInstruction extends Common {
  readonly kind: 'VOLUME';
  readonly paths: readonly string[];
}

export interface UserInstruction extends Common {
  readonly kind: 'USER';
  /** Raw `user[:group]`. */
  readonly user: string;
}

export interface WorkdirInstruction extends Common {
  readonly kind: 'WORKDIR';
  readonly path: string;
}

interface FileCopyCommon extends Common {
  readonly sources: readonly CopySource[];
  readonly destination: string;
  readonly chown?: string;
  readonly chmod?: string;
  readonly link: boolean;
  readonly excludes: readonly string[];
  /** JSON form was used (no heredocs possible). */
  readonly json: boolean;
}

export interface CopyInstruction extends FileCopyCommon {
  readonly kind: 'COPY';
  readonly from?: string;
  readonly parents: boolean;
}

export interface AddInstruction extends FileCopyCommon {
  readonly kind: 'ADD';
  readonly checksum?: string;
  /** Undefined when the flag was not given (BuildKit's default applies). */
  readonly keepGitDir?: boolean;
  readonly unpack?: boolean;
}

export interface OnbuildInstruction extends Common {
  readonly kind: 'ONBUILD';
  /** The trigger as it is stored in the image config (without `ONBUILD `, heredoc bodies appended). */
  readonly expression: string;
  /** The trigger, parsed and validated. */
  readonly trigger: Instruction;
}

export interface StopsignalInstruction extends Common {
  readonly kind: 'STOPSIGNAL';
  readonly signal: string;
}

export interface HealthcheckOptions {
  /** Durations in nanoseconds; 0 or absent means "use the default". */
  readonly interval?: number;
  readonly timeout?: number;
  readonly startPeriod?: number;
  readonly startInterval?: number;
  readonly retries?: number;
}

export interface HealthcheckInstruction extends Common {
  readonly kind: 'HEALTHCHECK';
  /**
   * `NONE` disables the base image's check. Otherwise the image-config
   * `Test` array: `['CMD', ...args]` (exec form) or `['CMD-SHELL', command]`.
   */
  readonly test: readonly string[];
  readonly options: HealthcheckOptions;
}

export interface MaintainerInstruction extends Common {
  readonly kind: 'MAINTAINER';
  readonly maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | CopyInstruction
  | AddInstruction
  | OnbuildInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

export interface Stage {
  /** Position in the file, from 0. */
  readonly index: number;
  /** Lower-cased `AS` name, if any. */
  readonly name?: string;
  readonly from: FromInstruction;
  /** The stage's instructions after FROM. */
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly directives: ParserDirectives;
  /** ARGs before the first FROM (usable in FROM lines). */
  readonly metaArgs: readonly ArgInstruction[];
  readonly stages: readonly Stage[];
  readonly warnings: readonly ParserWarning[];
  readonly file?: string;
}
