// The confinement policy, decided in TypeScript and checked without root:
// how a moby-format seccomp profile is compiled for a sandbox, the device
// rules in their v1 and helper forms, and what reaches the helper config
// and the OCI config.
import test from 'ava';
import { compileHelperConfig } from '../runner-native/helper-config.js';
import { toOciConfig } from '../runner-native/oci-runtime-config.js';
import { compileSeccomp, defaultSeccompProfile, parseSeccompProfile, seccompRecords, type SeccompProfile } from '../runner-native/seccomp.js';
import { DOCKER_DEVICE_RULES, deviceRulesOf, helperRuleFields, v1RuleLine } from '../runner-native/device-rules.js';
import { defaultSpec, DOCKER_DEFAULT_CAPS, withSeccomp } from '../runner-native/spec.js';

const names = (p: ReturnType<typeof compileSeccomp>, action = 'SCMP_ACT_ALLOW') =>
  new Set(p.syscalls.filter((s) => s.action === action && !s.args).flatMap((s) => s.names));

test('the default profile: EPERM by default, an allow-list without keyctl/add_key/unshare/mount/bpf/io_uring for Docker\'s caps', (t) => {
  const p = compileSeccomp(defaultSeccompProfile(), { capabilities: DOCKER_DEFAULT_CAPS, arch: 'x64', kernel: '6.1.0' });
  t.is(p.defaultAction, 'SCMP_ACT_ERRNO');
  t.is(p.defaultErrnoRet, 1);
  t.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const allowed = names(p);
  for (const n of ['read', 'execve', 'mkdir', 'chroot', 'ptrace', 'arch_prctl', 'setuid', 'capset']) t.true(allowed.has(n), n);
  for (const n of ['keyctl', 'add_key', 'request_key', 'unshare', 'mount', 'bpf', 'io_uring_setup', 'userfaultfd', 'kexec_load',
    'open_by_handle_at', 'perf_event_open', 'setns', 'reboot', 'init_module', 'clone3', 'clone', 'socket', 'personality']) {
    t.false(allowed.has(n), n);
  }
  // clone only without namespace flags; socket without AF_VSOCK; clone3 ENOSYS
  const clone = p.syscalls.find((s) => s.names.includes('clone'))!;
  t.deepEqual(clone.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
  t.deepEqual(p.syscalls.find((s) => s.names.includes('socket'))!.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  t.like(p.syscalls.find((s) => s.names.includes('clone3')), { action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  t.deepEqual(p.syscalls.filter((s) => s.names.includes('personality')).map((s) => s.args![0]!.value), [0, 8, 0x20000, 0x20008, 0xffffffff]);
});

test('capability-gated rules apply exactly when the bounding set has the capability', (t) => {
  const withAdmin = compileSeccomp(defaultSeccompProfile(), { capabilities: [...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN'], arch: 'x64', kernel: '6.1' });
  const allowed = names(withAdmin);
  for (const n of ['mount', 'unshare', 'setns', 'clone', 'clone3', 'bpf']) t.true(allowed.has(n), n);
  t.false(withAdmin.syscalls.some((s) => s.names.includes('clone3') && s.action === 'SCMP_ACT_ERRNO'), 'no ENOSYS for clone3 with CAP_SYS_ADMIN');
  t.false(withAdmin.syscalls.some((s) => s.names.includes('clone') && s.args), 'clone unrestricted');
  const without = names(compileSeccomp(defaultSeccompProfile(), { capabilities: [], arch: 'x64', kernel: '6.1' }));
  t.false(without.has('chroot'), 'chroot needs CAP_SYS_CHROOT');
  t.true(names(compileSeccomp(defaultSeccompProfile(), { capabilities: ['CAP_SYS_PTRACE'], arch: 'x64', kernel: '4.4' })).has('ptrace'));
  t.false(names(compileSeccomp(defaultSeccompProfile(), { capabilities: [], arch: 'x64', kernel: '4.4.0-1' })).has('ptrace'), 'before 4.8 ptrace could bypass seccomp');
});

test('architectures: arm64 gets its own calls and not x86\'s; s390x checks clone\'s second argument', (t) => {
  const arm = compileSeccomp(defaultSeccompProfile(), { capabilities: [], arch: 'arm64', kernel: '6.1' });
  t.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.true(names(arm).has('set_tls'));
  t.false(names(arm).has('arch_prctl'));
  const s390 = compileSeccomp(defaultSeccompProfile(), { capabilities: [], arch: 's390x', kernel: '6.1' });
  t.deepEqual(s390.syscalls.filter((s) => s.names.includes('clone')).map((s) => s.args![0]!.index), [1]);
});

test('helper records: one rule per name, action values with their errno, rules equal to the default skipped', (t) => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['keyctl'], action: 'SCMP_ACT_ERRNO' },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] },
    ],
  };
  t.deepEqual(seccompRecords(compileSeccomp(profile, { capabilities: [] })), [
    ['seccomp_default', '50001'],
    ['seccomp_arch', 'x86_64'],
    ['seccomp_rule', '7fff0000', 'read', ''],
    ['seccomp_rule', '7fff0000', 'write', ''],
    ['seccomp_rule', '50026', 'clone3', ''],
    ['seccomp_rule', '7fff0000', 'socket', '0,1,40,0'],
    ['seccomp_rule', '7fff0000', 'personality', '0,4,18446744073709551615,0'],
  ]);
});

test('a bad profile is one clear error naming the file and the field', (t) => {
  t.throws(() => parseSeccompProfile('{', 'p.json'), { message: /p\.json: not valid JSON/ });
  t.throws(() => parseSeccompProfile('[]', 'p.json'), { message: /p\.json: a seccomp profile is a JSON object/ });
  t.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_NOTIFY"}', 'p.json'), { message: /defaultAction: unsupported action "SCMP_ACT_NOTIFY"/ });
  t.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]}', 'p.json'), { message: /syscalls\[0\]\.names must be a list/ });
  t.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":7,"value":1,"op":"SCMP_CMP_EQ"}]}]}', 'p.json'), { message: /index must be 0\.\.5/ });
});

test('device rules: Docker\'s list, v1 lines, helper fields; nodes a spec adds are allowed', (t) => {
  t.deepEqual(DOCKER_DEVICE_RULES.map(v1RuleLine), [
    'a *:* rwm', 'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm',
  ]);
  t.deepEqual(DOCKER_DEVICE_RULES.map(helperRuleFields).slice(0, 2), [[0, 'a', -1, -1, 'rwm'], [1, 'c', -1, -1, 'm']]);
  const spec = defaultSpec({ args: ['true'], rootPath: '/r' });
  spec.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }];
  t.deepEqual(deviceRulesOf(spec).at(-1), { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' });
  spec.linux.resources = { devices: [{ allow: true, access: 'rwx' }] };
  t.throws(() => deviceRulesOf(spec), { message: /access must be made of 'r', 'w', 'm'/ });
});

test('helper config: seccomp records, the v2 device program, a joined network namespace', (t) => {
  const spec = defaultSpec({ args: ['true'], rootPath: '/r', network: { namespacePath: '/proc/42/ns/net' } });
  const v1 = compileHelperConfig(spec, { ownerPid: 1, cgroupProcs: [] });
  t.regex(v1, /^netns\t\/proc\/42\/ns\/net$/m);
  t.notRegex(v1, /^namespace\tnetwork$/m);
  t.regex(v1, /^seccomp_default\t50001$/m);
  t.regex(v1, /^seccomp_rule\t7fff0000\tread\t$/m);
  t.notRegex(v1, /^devices_bpf/m, 'v1 takes the rules as cgroup files');
  const v2 = compileHelperConfig(spec, { ownerPid: 1, cgroupProcs: [], deviceCgroupDir: '/sys/fs/cgroup/tsbuild/x' });
  t.regex(v2, /^devices_bpf\t\/sys\/fs\/cgroup\/tsbuild\/x$/m);
  t.regex(v2, /^device_rule\t0\ta\t-1\t-1\trwm$/m);
  t.regex(v2, /^device_rule\t1\tc\t136\t-1\trwm$/m);
  const unconfined = compileHelperConfig(withSeccomp(spec, 'unconfined'), { ownerPid: 1, cgroupProcs: [] });
  t.notRegex(unconfined, /^seccomp_/m);
});

test('OCI config: the compiled profile, the device rules and the namespace path go to runc as they are', (t) => {
  const spec = defaultSpec({ args: ['true'], rootPath: '/r', network: { namespacePath: '/proc/42/ns/net' }, noNewPrivileges: true });
  const oci = toOciConfig(spec, { cgroupsPath: '/tsbuild/x' });
  t.deepEqual(oci.linux.seccomp, spec.linux.seccomp);
  t.deepEqual((oci.linux.resources as { devices: unknown[] }).devices, [...DOCKER_DEVICE_RULES]);
  t.deepEqual((oci.linux.namespaces as unknown[]).at(-1), { type: 'network', path: '/proc/42/ns/net' });
  t.is(oci.process.noNewPrivileges, true);
});
