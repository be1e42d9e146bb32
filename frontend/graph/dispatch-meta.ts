// Instructions that only change the image config or the variables in
// scope: ENV, LABEL, ARG, USER, EXPOSE, VOLUME, STOPSIGNAL, SHELL,
// MAINTAINER, ONBUILD. Each records BuildKit's history line.
import { ExposeInvalidFormat, ExposeProtoCasing, LegacyKeyValueFormat, SecretsUsedInArgOrEnv } from '../checks/rules.js';
import type {
  ArgInstruction, EnvInstruction, ExposeInstruction, LabelInstruction, MaintainerInstruction,
  OnbuildInstruction, ShellInstruction, StopsignalInstruction, UserInstruction, VolumeInstruction,
} from '../instructions/index.js';
import { validateSignal, ValueError } from '../instructions/values.js';
import { docComment, isProxyArg, NON_ENV_ARGS } from './args.js';
import { goList, goPortSet } from './go-format.js';
import { attachLocation, errorAt } from './location.js';
import { parsePort } from './ports.js';
import type { Scope } from './scope.js';
import { setEnvAssignment } from './variables.js';

/** `KEY value` (no `=` in the first word) is the legacy ENV/LABEL form. */
export function usesLegacyKeyValue(original: string, escape: string): boolean {
  const rest = original.trim().replace(/^\S+\s*/, '');
  let quote = '';
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i]!;
    if (ch === escape && quote !== "'") {
      i++;
      continue;
    }
    if (quote) {
      if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (/\s/.test(ch)) return true;
    else if (ch === '=') return false;
  }
  return true;
}

const SECRET_WORDS = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOWED = /(?:_|^)(?:public|file|version)(?:_|$)/i;

function checkSecretName(scope: Scope, instruction: string, key: string): void {
  if (SECRET_WORDS.test(key) && !SECRET_ALLOWED.test(key)) scope.lint.run(SecretsUsedInArgOrEnv, scope.loc, instruction, key);
}

/**
 * Every word of one ENV or LABEL is expanded against the variables from
 * before the instruction (BuildKit expands the whole command, then applies
 * it): in `ENV A=2 B=$A`, B gets the previous A.
 */
function expandPairs(scope: Scope, pairs: readonly { key: string; value: string }[]): { key: string; value: string }[] {
  return pairs.map((pair) => ({ key: scope.expand.word(pair.key), value: scope.expand.word(pair.value) }));
}

export function dispatchEnv(scope: Scope, inst: EnvInstruction): void {
  const { state } = scope;
  if (usesLegacyKeyValue(inst.original, scope.ctx.escape)) scope.lint.run(LegacyKeyValueFormat, scope.loc, inst.keyword);
  const parts: string[] = [];
  for (const { key, value } of expandPairs(scope, inst.pairs)) {
    checkSecretName(scope, 'ENV', key);
    state.vars.set(key, value);
    state.config.Env = setEnvAssignment(state.config.Env ?? [], key, value);
    parts.push(`${key}=${value}`);
  }
  state.commit(`ENV ${parts.join(' ')}`, false);
}

export function dispatchLabel(scope: Scope, inst: LabelInstruction): void {
  const { state } = scope;
  if (usesLegacyKeyValue(inst.original, scope.ctx.escape)) scope.lint.run(LegacyKeyValueFormat, scope.loc, inst.keyword);
  const labels = { ...(state.config.Labels ?? {}) };
  const parts: string[] = [];
  for (const { key, value } of expandPairs(scope, inst.pairs)) {
    labels[key] = value;
    parts.push(`${key}=${value}`);
  }
  state.config.Labels = labels;
  state.commit(`LABEL ${parts.join(' ')}`, false);
}

/**
 * BuildKit's dispatchArg: a --build-arg beats the default; `ARG NAME` with
 * neither takes the global value (predefined args, meta ARGs). The value
 * becomes a variable of the stage (visible to RUN) but not config env.
 */
export function dispatchArg(scope: Scope, inst: ArgInstruction): void {
  const { state, ctx } = scope;
  const parts: string[] = [];
  for (const def of inst.args) {
    checkSecretName(scope, 'ARG', def.key);
    const fromBuildArg = ctx.buildArgValues.get(def.key);
    // BuildKit expands the default even when a --build-arg overrides it.
    const defaultValue = def.value !== undefined ? scope.expand.word(def.value) : undefined;
    let value: string | undefined;
    let inherited = false;
    if (fromBuildArg !== undefined) {
      value = fromBuildArg;
      ctx.usedBuildArgs.add(def.key);
    } else if (defaultValue !== undefined) {
      value = defaultValue;
    } else {
      value = ctx.globalArgs.get(def.key);
      inherited = value !== undefined;
    }
    if (value !== undefined && !NON_ENV_ARGS.has(def.key)) state.vars.set(def.key, value);
    if (!inherited) {
      state.argInfos.set(def.key, {
        name: def.key,
        ...(value !== undefined ? { value } : {}),
        description: docComment(inst.comments, def.key),
        loc: scope.loc,
        deps: new Set(),
      });
    }
    state.usedArgs.add(def.key);
    state.buildArgs.push({ key: def.key, ...(value !== undefined ? { value } : {}) });
    // The history shows the Dockerfile's default (expanded), never the
    // --build-arg value, as BuildKit records it: `ARG V=1.0` even when built
    // with V=2.0, `ARG V` without a default. The resolved values appear in
    // the RUN lines that see them. Proxy defaults may hold credentials.
    parts.push(defaultValue !== undefined && !isProxyArg(def.key) ? `${def.key}=${defaultValue}` : def.key);
  }
  state.commit(`ARG ${parts.join(' ')}`, false);
}

export function dispatchUser(scope: Scope, inst: UserInstruction): void {
  const user = scope.expand.word(inst.user);
  scope.state.config.User = user;
  scope.state.commit(`USER ${user}`, false);
}

export function dispatchExpose(scope: Scope, inst: ExposeInstruction): void {
  const { state } = scope;
  const words = inst.ports.flatMap((p) => scope.expand.words(p.raw));
  const ports: string[] = [];
  for (const raw of words) {
    let spec;
    try {
      spec = parsePort(raw);
    } catch (e) {
      throw attachLocation(e, scope.loc);
    }
    if (spec.protoNotLowercase) scope.lint.run(ExposeProtoCasing, scope.loc, raw);
    if (spec.hasHostPart) scope.lint.run(ExposeInvalidFormat, scope.loc, raw);
    ports.push(...spec.ports);
  }
  const exposed = { ...(state.config.ExposedPorts ?? {}) };
  for (const p of ports) exposed[p] = {};
  state.config.ExposedPorts = exposed;
  // BuildKit 0.13 (Docker 26) prints the port set Go map, sorted and deduplicated.
  state.commit(`EXPOSE ${goPortSet(ports)}`, false);
}

export function dispatchVolume(scope: Scope, inst: VolumeInstruction): void {
  const { state } = scope;
  const paths = inst.paths.map((p) => scope.expand.word(p));
  const volumes = { ...(state.config.Volumes ?? {}) };
  for (const p of paths) {
    if (p === '') throw errorAt(scope.loc, 'BAD_VOLUME', 'VOLUME specified can not be an empty string');
    volumes[p] = {};
  }
  state.config.Volumes = volumes;
  state.commit(`VOLUME ${goList(paths)}`, false);
}

export function dispatchStopsignal(scope: Scope, inst: StopsignalInstruction): void {
  const signal = scope.expand.word(inst.signal);
  try {
    validateSignal(signal);
  } catch (e) {
    if (e instanceof ValueError) throw errorAt(scope.loc, 'BAD_SIGNAL', e.message);
    throw e;
  }
  scope.state.config.StopSignal = signal;
  scope.state.commit(`STOPSIGNAL ${signal}`, false);
}

export function dispatchShell(scope: Scope, inst: ShellInstruction): void {
  scope.state.config.Shell = [...inst.shell];
  scope.state.commit(`SHELL ${goList(inst.shell)}`, false);
}

export function dispatchMaintainer(scope: Scope, inst: MaintainerInstruction): void {
  // BuildKit sets the image's top-level `author` field; StagePlan keeps it in `author`.
  scope.state.author = inst.maintainer;
  scope.state.commit(`MAINTAINER ${inst.maintainer}`, false);
}

/** ONBUILD only records the trigger for images built FROM this one; BuildKit writes no history for it. */
export function dispatchOnbuild(scope: Scope, inst: OnbuildInstruction): void {
  scope.state.config.OnBuild = [...(scope.state.config.OnBuild ?? []), inst.expression];
}
