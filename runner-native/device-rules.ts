// Which device numbers a sandbox may use, enforced by the devices cgroup
// (v1: devices.deny/devices.allow, written by cgroup.ts; v2: a BPF program
// the C helper attaches, see helper/devices.c). A fresh tmpfs /dev alone is
// not enough: with CAP_MKNOD (a Docker default) a process could mknod the
// host's disks or /dev/kmsg, and an image layer can ship device nodes.
import { SandboxSpecError } from './errors.js';
import type { SandboxDeviceRule, SandboxSpec } from './spec.js';

export type { SandboxDeviceRule } from './spec.js';

const rwm = (type: 'c', major: number, minor?: number): SandboxDeviceRule => ({ allow: true, type, major, ...(minor === undefined ? {} : { minor }), access: 'rwm' });

/** Docker's default rules: deny all, mknod of any node, and the few devices every program may use. */
export const DOCKER_DEVICE_RULES: readonly SandboxDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  rwm('c', 1, 3), // null
  rwm('c', 1, 5), // zero
  rwm('c', 1, 7), // full
  rwm('c', 1, 8), // random
  rwm('c', 1, 9), // urandom
  rwm('c', 5, 0), // tty
  rwm('c', 5, 1), // console
  rwm('c', 5, 2), // ptmx
  rwm('c', 136), // pts/*
];

/** The rules for a spec: its own (default Docker's), then access to each node it adds in `linux.devices`. */
export function deviceRulesOf(spec: SandboxSpec): SandboxDeviceRule[] {
  const rules = [...(spec.linux.resources?.devices ?? DOCKER_DEVICE_RULES)];
  for (const d of spec.linux.devices ?? []) rules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: 'rwm' });
  for (const r of rules) checkRule(r);
  return rules;
}

function checkRule(r: SandboxDeviceRule): void {
  const bad = (why: string) => new SandboxSpecError(`device rule ${JSON.stringify(r)}: ${why}`);
  if (r.type !== undefined && !['a', 'b', 'c'].includes(r.type)) throw bad("type must be 'a', 'b' or 'c'");
  if (r.access !== undefined && !/^[rwm]*$/.test(r.access)) throw bad("access must be made of 'r', 'w', 'm'");
  for (const n of [r.major, r.minor]) if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 0xffffffff)) throw bad('major and minor are 32-bit numbers');
}

/** The line cgroup v1's devices.allow/devices.deny take: `c 1:3 rwm`, `a *:* rwm`. */
export function v1RuleLine(r: SandboxDeviceRule): string {
  return `${r.type ?? 'a'} ${r.major ?? '*'}:${r.minor ?? '*'} ${r.access || 'rwm'}`;
}

/** The helper's `device_rule` record fields: allow, type, major, minor (-1 = any), access. */
export function helperRuleFields(r: SandboxDeviceRule): (string | number)[] {
  return [r.allow ? 1 : 0, r.type ?? 'a', r.major ?? -1, r.minor ?? -1, r.access || 'rwm'];
}
