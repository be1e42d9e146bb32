// Seccomp profiles in moby's JSON format (what `docker run --security-opt
// seccomp=profile.json` takes), compiled for one sandbox: the rules whose
// `includes`/`excludes` (capabilities, architectures, minimum kernel) do
// not hold are dropped, leaving the OCI `linux.seccomp` form that runc and
// crun read and that helper-config.ts hands to the C helper (libseccomp).
// Our default profile is seccomp/default.json, written from the documented
// semantics of Docker's default: an allow-list, EPERM for everything else.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { SandboxSpecError } from './errors.js';
import { packageRoot } from './package-root.js';

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

interface Conditions {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
  includes?: Conditions;
  excludes?: Conditions;
  comment?: string;
}

/** A profile as `docker run --security-opt seccomp=FILE` reads it. */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  architectures?: string[];
  syscalls?: SeccompSyscall[];
}

/** The compiled form: OCI runtime spec `linux.seccomp`. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

const ACTIONS: Record<string, number> = {
  SCMP_ACT_KILL: 0, SCMP_ACT_KILL_THREAD: 0, SCMP_ACT_KILL_PROCESS: 0x80000000, SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000, SCMP_ACT_TRACE: 0x7ff00000, SCMP_ACT_LOG: 0x7ffc0000, SCMP_ACT_ALLOW: 0x7fff0000,
};
const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const EPERM = 1;

/** moby's names for architectures (Go's GOARCH) from Node's. */
const GOARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'amd64', ia32: 'x86', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64',
};
const NATIVE_ARCH: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', x86: 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM',
  s390x: 'SCMP_ARCH_S390X', ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64',
};

let defaultProfile: SeccompProfile | undefined;

/** The default profile (seccomp/default.json in the package). */
export function defaultSeccompProfile(): SeccompProfile {
  defaultProfile ??= parseSeccompProfile(readFileSync(join(packageRoot(), 'runner-native', 'seccomp', 'default.json'), 'utf8'), 'the default seccomp profile');
  return defaultProfile;
}

function fail(source: string, message: string): never {
  throw new SandboxSpecError(`${source}: ${message}`);
}

/** Parses and checks a moby-format profile; errors name the source and the bad field. */
export function parseSeccompProfile(text: string, source: string): SeccompProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(source, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(source, 'a seccomp profile is a JSON object');
  const p = raw as SeccompProfile;
  checkAction(p.defaultAction, source, 'defaultAction');
  for (const [i, s] of (p.syscalls ?? []).entries()) {
    const where = `syscalls[${i}]`;
    const names = s.names ?? ((s as { name?: string }).name ? [(s as { name?: string }).name!] : undefined);
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) fail(source, `${where}.names must be a list of syscall names`);
    s.names = names;
    checkAction(s.action, source, `${where}.action`);
    for (const a of s.args ?? []) {
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) fail(source, `${where}.args: index must be 0..5`);
      if (!(a.op in OPS)) fail(source, `${where}.args: unknown op ${JSON.stringify(a.op)}`);
      if (typeof a.value !== 'number' || (a.valueTwo !== undefined && typeof a.valueTwo !== 'number')) fail(source, `${where}.args: value must be a number`);
    }
  }
  return p;
}

function checkAction(action: unknown, source: string, field: string): void {
  if (typeof action !== 'string' || !(action in ACTIONS)) {
    fail(source, `${field}: unsupported action ${JSON.stringify(action)} (one of ${Object.keys(ACTIONS).join(', ')})`);
  }
}

function kernelAtLeast(min: string, kernel: string): boolean {
  const want = min.split('.').map(Number);
  const have = kernel.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < 2; i++) {
    const h = have[i] ?? 0, w = want[i] ?? 0;
    if (h !== w) return h > w;
  }
  return true;
}

export interface SeccompTarget {
  /** the sandbox's capabilities (its bounding set, as moby uses) */
  capabilities: readonly string[];
  arch?: NodeJS.Architecture;
  kernel?: string;
}

/** Resolves a profile's conditions for one sandbox, as moby does when it creates a container. */
export function compileSeccomp(profile: SeccompProfile, target: SeccompTarget): OciSeccomp {
  const arch = GOARCH[target.arch ?? process.arch] ?? String(target.arch ?? process.arch);
  const kernel = target.kernel ?? release();
  const caps = new Set(target.capabilities.map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`)));
  let architectures = profile.architectures ?? [];
  if (profile.archMap?.length) {
    const native = NATIVE_ARCH[arch];
    const entry = profile.archMap.find((m) => m.architecture === native);
    architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
  }
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const s of profile.syscalls ?? []) {
    const inc = s.includes ?? {}, exc = s.excludes ?? {};
    if (inc.arches?.length && !inc.arches.includes(arch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(inc.minKernel, kernel)) continue;
    if (exc.arches?.includes(arch)) continue;
    if (exc.caps?.some((c) => caps.has(c))) continue;
    if (exc.minKernel && kernelAtLeast(exc.minKernel, kernel)) continue;
    syscalls.push({
      names: [...s.names], action: s.action,
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args?.length ? { args: s.args.map((a) => ({ ...a })) } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures, syscalls,
  };
}

function actionValue(action: string, errnoRet: number | undefined): number {
  const base = ACTIONS[action];
  if (base === undefined) throw new SandboxSpecError(`seccomp: unsupported action ${action}`);
  // runc's rule: an errno action without errnoRet returns EPERM
  if (action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE') return (base | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
  return base;
}

/** libseccomp's name of an OCI architecture (SCMP_ARCH_X86_64 -> x86_64). */
function libseccompArch(name: string): string {
  if (!name.startsWith('SCMP_ARCH_')) throw new SandboxSpecError(`seccomp: unknown architecture ${name}`);
  return name.slice('SCMP_ARCH_'.length).toLowerCase();
}

/** The helper's records for a compiled profile: default action, architectures, one rule per syscall name. */
export function seccompRecords(s: OciSeccomp): (string | number)[][] {
  const defaultValue = actionValue(s.defaultAction, s.defaultErrnoRet);
  const records: (string | number)[][] = [['seccomp_default', defaultValue.toString(16)]];
  for (const arch of s.architectures) records.push(['seccomp_arch', libseccompArch(arch)]);
  for (const rule of s.syscalls) {
    const value = actionValue(rule.action, rule.errnoRet);
    // libseccomp refuses a rule that repeats the default action; it is a no-op anyway
    if (value === defaultValue) continue;
    const args = (rule.args ?? []).map((a) => {
      const op = OPS[a.op];
      if (op === undefined) throw new SandboxSpecError(`seccomp: unknown op ${a.op}`);
      return `${a.index},${op},${BigInt.asUintN(64, BigInt(a.value))},${BigInt.asUintN(64, BigInt(a.valueTwo ?? 0))}`;
    }).join(';');
    for (const name of rule.names) records.push(['seccomp_rule', value.toString(16), name, args]);
  }
  return records;
}
