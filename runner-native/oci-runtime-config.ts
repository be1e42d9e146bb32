// SandboxSpec -> OCI runtime config.json, for running the very same spec
// with an installed runc or crun (`--runtime`). The spec is already shaped
// like OCI, so this is mostly a copy; what differs is spelled out here:
//  - `rootLayers` is not OCI: the caller mounts the overlay at root.path
//    before the runtime starts (see oci-runtime-rootfs.ts);
//  - bind mounts need `rbind`/`bind` in their options for runc (the native
//    path binds recursively when neither is given, as Docker does);
//  - the device cgroup rules are the native path's (Docker's by default,
//    see device-rules.ts), and so is the compiled seccomp profile.
import { isAbsolute } from 'node:path';
import { deviceRulesOf } from './device-rules.js';
import { SandboxSpecError } from './errors.js';
import type { SandboxMount, SandboxSpec } from './spec.js';

export const OCI_VERSION = '1.0.2';

export interface OciConfigContext {
  /** absolute cgroup path, e.g. `/tsbuild/<id>` */
  cgroupsPath: string;
}

/** The parts of config.json we write; see the OCI runtime spec for their meaning. */
export interface OciConfig {
  ociVersion: string;
  process: Record<string, unknown>;
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: Record<string, unknown>;
}

function ociMount(m: SandboxMount): OciConfig['mounts'][number] {
  if (!isAbsolute(m.destination)) throw new SandboxSpecError(`mount destination must be an absolute path, got ${JSON.stringify(m.destination)}`);
  const options = [...(m.options ?? [])];
  if (m.type === 'bind') {
    if (!m.source || !isAbsolute(m.source)) throw new SandboxSpecError(`bind mount on ${m.destination} needs an absolute source`);
    if (!options.includes('bind') && !options.includes('rbind')) options.unshift('rbind');
  }
  return { destination: m.destination, type: m.type, source: m.source ?? m.type, options };
}

function ociResources(spec: SandboxSpec): Record<string, unknown> {
  const r = spec.linux.resources ?? {};
  return {
    devices: deviceRulesOf(spec).map((d) => ({ ...d })),
    ...(r.memory ? { memory: { ...r.memory } } : {}),
    ...(r.cpu ? { cpu: { ...r.cpu } } : {}),
    ...(r.pids?.limit !== undefined ? { pids: { limit: r.pids.limit } } : {}),
  };
}

export function toOciConfig(spec: SandboxSpec, ctx: OciConfigContext): OciConfig {
  const p = spec.process;
  if (p.terminal) throw new SandboxSpecError('process.terminal is not supported yet');
  if (p.args.length === 0) throw new SandboxSpecError('process.args is empty');
  if (!isAbsolute(spec.root.path)) throw new SandboxSpecError(`root.path must be an absolute path, got ${JSON.stringify(spec.root.path)}`);
  const caps = p.capabilities ?? { bounding: [], effective: [], permitted: [] };
  const namespaces = spec.linux.namespaces.map((n) => ({ type: n.type, ...(n.path !== undefined ? { path: n.path } : {}) }));
  // Same rule as the native path: both are what makes it a sandbox at all.
  for (const required of ['mount', 'pid']) {
    if (!namespaces.some((n) => n.type === required)) throw new SandboxSpecError(`the ${required} namespace is required`);
  }
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: p.user.uid, gid: p.user.gid, ...(p.user.additionalGids?.length ? { additionalGids: [...p.user.additionalGids] } : {}) },
      args: [...p.args],
      env: [...p.env],
      cwd: p.cwd || '/',
      capabilities: {
        bounding: [...caps.bounding], effective: [...caps.effective], permitted: [...caps.permitted],
        inheritable: [...(caps.inheritable ?? [])], ambient: [...(caps.ambient ?? [])],
      },
      rlimits: (p.rlimits ?? []).map((r) => ({ type: r.type, soft: r.soft, hard: r.hard })),
      noNewPrivileges: p.noNewPrivileges ?? false,
    },
    root: { path: spec.root.path, readonly: spec.root.readonly ?? false },
    ...(spec.hostname ? { hostname: spec.hostname } : {}),
    mounts: spec.mounts.map(ociMount),
    linux: {
      namespaces,
      resources: ociResources(spec),
      cgroupsPath: ctx.cgroupsPath,
      devices: (spec.linux.devices ?? []).map((d) => ({
        path: d.path, type: d.type, major: d.major, minor: d.minor,
        fileMode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0,
      })),
      maskedPaths: [...(spec.linux.maskedPaths ?? [])],
      readonlyPaths: [...(spec.linux.readonlyPaths ?? [])],
      ...(spec.linux.seccomp ? { seccomp: structuredClone(spec.linux.seccomp) } : {}),
    },
  };
}
