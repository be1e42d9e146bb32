// The mutable state of one stage while its instructions are dispatched:
// the image config and history being built, the variables in scope
// (config env + ARGs, BuildKit's llb state env), the current directory, and
// what `--call outline` needs to know.
import { defaultPathEnv } from './platform.js';
import type { ArgInfo } from './args.js';
import type { BaseImage, ContainerConfig, HistoryEntry, Location, Platform, Step } from './types.js';
import { normalizeWorkdir } from './paths.js';
import { VarList } from './variables.js';

/** An ARG in scope: its value is undefined for `ARG NAME` with no default and no build arg. */
export interface ArgDecl {
  readonly key: string;
  readonly value?: string;
}

export interface MountUse {
  readonly required: boolean;
  readonly loc: Location;
}

export class StageState {
  steps: Step[] = [];
  /** Instructions that may appear once per stage, with where they last appeared (MultipleInstructionsDisallowed). */
  readonly seenOnce = new Map<string, Location>();
  /** Outline bookkeeping: args used (declared or referenced in FROM), arg definitions, secrets and ssh ids. */
  readonly usedArgs = new Set<string>();
  readonly argInfos = new Map<string, ArgInfo>();
  readonly secrets = new Map<string, MountUse>();
  readonly ssh = new Map<string, MountUse>();
  dispatched = false;
  /** MAINTAINER: the image's top-level `author` field. */
  author?: string;

  private constructor(
    public config: ContainerConfig,
    public history: HistoryEntry[],
    public vars: VarList,
    public buildArgs: ArgDecl[],
    public workdir: string,
    /** A WORKDIR was set in this Dockerfile (not only by the base image): WorkdirRelativePath only fires before that. */
    public workdirSet: boolean,
    readonly platform: Platform,
  ) {}

  /** BuildKit's emptyImage(): what `FROM scratch` starts with. */
  static scratch(platform: Platform): StageState {
    const path = defaultPathEnv(platform.os);
    const config: ContainerConfig = { WorkingDir: '/', ...(path ? { Env: [`PATH=${path}`] } : {}) };
    return StageState.fromConfig(config, [], platform, [], false);
  }

  static fromImage(image: BaseImage, platform: Platform): StageState {
    return StageState.fromConfig(structuredClone(image.config), structuredClone(image.history), platform, [], false);
  }

  /** A stage built on another stage inherits its config, history, variables (ARGs included) and directory. */
  static fromStage(base: StageState): StageState {
    const config = structuredClone(base.config);
    // ONBUILD triggers do not carry over from a base stage: they run in the child instead.
    delete config.OnBuild;
    const state = new StageState(config, structuredClone(base.history), base.vars.clone(), [...base.buildArgs], base.workdir, base.workdirSet, base.platform);
    if (base.author !== undefined) state.author = base.author;
    return state;
  }

  private static fromConfig(config: ContainerConfig, history: HistoryEntry[], platform: Platform, buildArgs: ArgDecl[], workdirSet: boolean): StageState {
    const env = config.Env ?? [];
    // BuildKit makes sure PATH is always set (except on Windows).
    const path = defaultPathEnv(platform.os);
    if (path && !env.some((e) => e === 'PATH' || e.startsWith('PATH='))) config.Env = [...env, `PATH=${path}`];
    let workdir = '/';
    if (config.WorkingDir) {
      workdir = normalizeWorkdir('/', config.WorkingDir);
      config.WorkingDir = workdir;
    }
    return new StageState(config, history, VarList.fromAssignments(config.Env), buildArgs, workdir, workdirSet, platform);
  }

  /** Appends a history entry; `layer` says whether the step produced a filesystem change. */
  commit(createdBy: string, layer: boolean): void {
    this.history.push({ created_by: createdBy, comment: 'buildkit.dockerfile.v0', ...(layer ? {} : { empty_layer: true }) });
  }
}
