// Build arguments: the predefined platform args, the proxy args, and the
// global ("meta") ARGs declared before the first FROM.
import { expandWordWithInfo } from '../shell/index.js';
import type { ArgInstruction } from '../instructions/index.js';
import { formatPlatform } from './platform.js';
import { attachLocation, toLocation } from './location.js';
import type { Location, Platform } from './types.js';
import { VarList } from './variables.js';

/** Args BuildKit defines in the global scope; a stage sees them only after `ARG NAME`. */
export const PREDEFINED_ARGS = [
  'BUILDPLATFORM', 'BUILDOS', 'BUILDOSVERSION', 'BUILDARCH', 'BUILDVARIANT',
  'TARGETPLATFORM', 'TARGETOS', 'TARGETOSVERSION', 'TARGETARCH', 'TARGETVARIANT', 'TARGETSTAGE',
] as const;

/**
 * Proxy args: RUN sees them without an ARG, and they never enter the image
 * config, the history or a cache key (they differ between machines and may
 * hold credentials).
 */
export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'] as const;

const PROXY_KINDS = ['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy'];

/** Any spelling of a proxy arg (BuildKit compares them case-insensitively). */
export function isProxyArg(name: string): boolean {
  return PROXY_KINDS.includes(name.toLowerCase());
}

/** Proxy --build-args as the RUN environment gets them: both `HTTP_PROXY` and `http_proxy` (BuildKit's ProxyEnv). */
export function proxyEnv(buildArgs: ReadonlyMap<string, string>): string[] {
  const values = new Map<string, string>();
  for (const key of [...buildArgs.keys()].sort()) {
    if (isProxyArg(key)) values.set(key.toLowerCase(), buildArgs.get(key)!);
  }
  return [...values].flatMap(([k, v]) => [`${k.toUpperCase()}=${v}`, `${k}=${v}`]);
}

/** Args BuildKit reads itself and never puts in a process environment. */
export const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

export function isPredefinedArg(name: string): boolean {
  return (PREDEFINED_ARGS as readonly string[]).includes(name);
}

/** The predefined args for this build (BuildKit's defaultArgs); a --build-arg of the same name overrides. */
export function predefinedArgs(target: Platform, build: Platform, buildArgs: ReadonlyMap<string, string>, targetStage: string): VarList {
  const pairs: Array<[string, string]> = [
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDOSVERSION', ''],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETOSVERSION', ''],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['TARGETSTAGE', targetStage],
  ];
  return new VarList(pairs.map(([k, v]) => [k, buildArgs.get(k) ?? v] as [string, string]));
}

/** What `--call outline` shows about one ARG declaration. */
export interface ArgInfo {
  readonly name: string;
  /** The effective value (build-arg or expanded default); undefined when it has none. */
  readonly value?: string;
  readonly description: string;
  readonly loc: Location;
  /** Meta args this one's default refers to (they are "used" when this one is). */
  readonly deps: ReadonlySet<string>;
}

/** `# NAME description` directly above the instruction, as BuildKit's getDocComment. */
export function docComment(comments: readonly string[], name: string | undefined): string {
  if (!name) return '';
  for (const line of comments) {
    if (line.startsWith(`${name} `)) return line.slice(name.length + 1);
  }
  return '';
}

/**
 * BuildKit's buildMetaArgs: global ARGs in order; a --build-arg replaces the
 * default, otherwise the default is expanded with the args so far. Args with
 * no value are declared but not set.
 */
export function buildMetaArgs(
  predefined: VarList,
  metaArgs: readonly ArgInstruction[],
  buildArgs: ReadonlyMap<string, string>,
  escape: '\\' | '`',
  file: string,
): { args: VarList; infos: Map<string, ArgInfo> } {
  const args = predefined.clone();
  const infos = new Map<string, ArgInfo>();
  for (const inst of metaArgs) {
    const loc = toLocation(inst.location, file);
    for (const def of inst.args) {
      let value: string | undefined;
      let deps = new Set<string>();
      if (buildArgs.has(def.key)) {
        value = buildArgs.get(def.key)!;
      } else if (def.value !== undefined) {
        let info;
        try {
          info = expandWordWithInfo(def.value, args.lookup, { escape });
        } catch (e) {
          throw attachLocation(e, inst.location, file);
        }
        value = info.result;
        deps = new Set(info.used);
        if (deps.delete(def.key)) for (const d of infos.get(def.key)?.deps ?? []) deps.add(d);
      }
      if (value !== undefined) args.set(def.key, value);
      infos.set(def.key, {
        name: def.key,
        ...(value !== undefined ? { value } : {}),
        description: docComment(inst.comments, def.key),
        loc,
        deps,
      });
    }
  }
  return { args, infos };
}
