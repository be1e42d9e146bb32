// Pure parts of runner-native: default spec, capability masks, mount
// options, and the config the C helper receives. No root needed.
import test from 'ava';
import { capabilityMask, capabilityNumber } from '../runner-native/capabilities.js';
import { sharesToWeight } from '../runner-native/cgroup.js';
import { SandboxSpecError } from '../runner-native/errors.js';
import { defaultHosts } from '../runner-native/etc-files.js';
import { compileHelperConfig, overlayRecord } from '../runner-native/helper-config.js';
import { parseHelperStatus } from '../runner-native/helper-status.js';
import { MS, parseMountOptions } from '../runner-native/mount-options.js';
import { defaultSpec, DOCKER_DEFAULT_CAPS, type SandboxSpec } from '../runner-native/spec.js';

const ctx = { ownerPid: 42, cgroupProcs: ['/sys/fs/cgroup/pids/tsbuild/x/cgroup.procs'] };

function records(text: string, kind: string): string[][] {
  return text.split('\n').filter((l) => l.split('\t')[0] === kind).map((l) => l.split('\t').slice(1));
}

test('Docker default capabilities give the CapEff Docker containers show', (t) => {
  t.is(capabilityMask(DOCKER_DEFAULT_CAPS), 0xa80425fbn);
  t.is(capabilityNumber('CAP_SYS_ADMIN'), 21);
  t.is(capabilityNumber('net_raw'), 13);
  t.throws(() => capabilityNumber('CAP_FLY'), { instanceOf: SandboxSpecError });
});

test('defaultSpec: root gets the default caps, other users only a bounding set', (t) => {
  const root = defaultSpec({ args: ['true'], rootPath: '/r' });
  t.deepEqual(root.process.capabilities?.effective, [...DOCKER_DEFAULT_CAPS]);
  const nobody = defaultSpec({ args: ['true'], rootPath: '/r', user: { uid: 65534, gid: 65534 } });
  t.deepEqual(nobody.process.capabilities?.effective, []);
  t.deepEqual(nobody.process.capabilities?.bounding, [...DOCKER_DEFAULT_CAPS]);
});

test('defaultSpec: network none adds a network namespace, host does not; PATH is defaulted', (t) => {
  const none = defaultSpec({ args: ['true'], rootPath: '/r' });
  t.true(none.linux.namespaces.some((n) => n.type === 'network'));
  const host = defaultSpec({ args: ['true'], rootPath: '/r', network: 'host' });
  t.false(host.linux.namespaces.some((n) => n.type === 'network'));
  t.true(none.process.env[0]!.startsWith('PATH=/usr/local/sbin'));
  const own = defaultSpec({ args: ['true'], rootPath: '/r', env: ['PATH=/x'] });
  t.deepEqual(own.process.env, ['PATH=/x']);
  t.true(none.linux.readonlyPaths!.includes('/proc/sys'));
  t.true(none.linux.maskedPaths!.includes('/proc/kcore'));
});

test('mount options become flags, propagation and data', (t) => {
  const o = parseMountOptions(['nosuid', 'ro', 'mode=755', 'rprivate', 'size=64m']);
  t.is(o.flags, MS.NOSUID | MS.RDONLY);
  t.is(o.propagation, MS.PRIVATE | MS.REC);
  t.is(o.data, 'mode=755,size=64m');
  t.is(parseMountOptions(['ro', 'rw']).flags, 0);
  t.is(parseMountOptions([], true).flags, MS.BIND | MS.REC, 'binds are recursive by default');
  t.is(parseMountOptions(['bind'], true).flags, MS.BIND);
});

test('helper config carries every step of the spec, escaped', (t) => {
  const spec = defaultSpec({
    args: ['sh', '-c', 'echo "a\tb"\necho c\\d'], rootPath: '/r', hostname: 'box', env: ['A=1'],
    user: { uid: 1000, gid: 1000, additionalGids: [10, 20] },
  });
  spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }];
  const text = compileHelperConfig(spec, ctx);
  t.deepEqual(records(text, 'arg'), [['sh'], ['-c'], ['echo "a\\tb"\\necho c\\\\d']]);
  t.deepEqual(records(text, 'cgroup_procs'), [[ctx.cgroupProcs[0]!]]);
  t.deepEqual(records(text, 'namespace').flat().sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  t.deepEqual(records(text, 'user'), [['1000', '1000']]);
  t.deepEqual(records(text, 'group'), [['10'], ['20']]);
  t.deepEqual(records(text, 'caps'), [['a80425fb', '0', '0', '0', '0']]);
  t.deepEqual(records(text, 'rlimit'), [['7', '1024', '4096']]);
  t.deepEqual(records(text, 'hostname'), [['box']]);
  // /dev is a tmpfs, so the default devices and links are made
  t.deepEqual(records(text, 'device').map((d) => d[0]), ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
  t.true(records(text, 'symlink').some(([target, path]) => target === 'pts/ptmx' && path === '/dev/ptmx'));
  const sys = records(text, 'mount').find((m) => m[0] === '/sys')!;
  t.is(Number(sys[3]) & MS.RDONLY, MS.RDONLY);
});

test('helper config refuses what the sandbox cannot do safely', (t) => {
  const base = defaultSpec({ args: ['true'], rootPath: '/r' });
  const broken = (change: (s: SandboxSpec) => void) => {
    const s = structuredClone(base);
    change(s);
    return () => compileHelperConfig(s, ctx);
  };
  t.throws(broken((s) => { s.root.path = 'relative'; }), { instanceOf: SandboxSpecError });
  t.throws(broken((s) => { s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== 'mount'); }), { instanceOf: SandboxSpecError });
  t.throws(broken((s) => { s.mounts.push({ destination: '/x', type: 'bind' }); }), { instanceOf: SandboxSpecError });
  t.throws(broken((s) => { s.process.args = []; }), { instanceOf: SandboxSpecError });
  t.throws(broken((s) => { s.linux.sysctl = { 'kernel.hostname': 'x' }; }), { instanceOf: SandboxSpecError, message: /not namespaced/ });
  t.throws(broken((s) => { s.linux.sysctl = { 'net/../x': '1' }; }), { instanceOf: SandboxSpecError });
  t.throws(broken((s) => { s.process.env.push('A=\0'); }), { instanceOf: SandboxSpecError });
  t.throws(broken((s) => { s.process.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }]; }), { instanceOf: SandboxSpecError });
});

test('overlay options switch to paths relative to a common parent when they would overflow a page', (t) => {
  const short = overlayRecord({ lowerDirs: ['/l/2', '/l/1'], upperDir: '/l/u', workDir: '/l/w' }).split('\t');
  t.deepEqual(short, ['overlay', '/l/2:/l/1', '/l/u', '/l/w', '']);
  // 50 layers named by sha256 hex: 4,600 bytes absolute, 3,250 relative
  const many = Array.from({ length: 50 }, (_, i) => `/var/lib/tsbuild/snapshots/${String(i).padStart(64, '0')}`);
  const long = overlayRecord({ lowerDirs: many, upperDir: '/var/lib/tsbuild/snapshots/up', workDir: '/var/lib/tsbuild/snapshots/wk' }).split('\t');
  t.is(long[4], '/var/lib/tsbuild/snapshots');
  t.true(long[1]!.startsWith(`${'0'.repeat(64)}:`));
  const tooMany = Array.from({ length: 80 }, (_, i) => `/s/${String(i).padStart(64, '0')}`);
  t.throws(() => overlayRecord({ lowerDirs: tooMany, upperDir: '/s/u', workDir: '/s/w' }), { instanceOf: SandboxSpecError });
  t.throws(() => overlayRecord({ lowerDirs: ['/a:b'], upperDir: '/u', workDir: '/w' }), { instanceOf: SandboxSpecError });
  t.throws(() => overlayRecord({ lowerDirs: ['/a'] }), { instanceOf: SandboxSpecError });
});

test('helper status lines parse into a result or a typed error', (t) => {
  const ok = parseHelperStatus('pid\t123\ncreated\t/proc\nexit\t3\n');
  t.is(ok.pid, 123);
  t.deepEqual(ok.createdPaths, ['/proc']);
  t.is(ok.exitCode, 3);
  t.is(parseHelperStatus('signal\t9\n').signal, 'SIGKILL');
  const missing = parseHelperStatus('error\texec_not_found\texec: "x": executable file not found in $PATH\nexit\t127\n');
  t.is(missing.error?.code, 'SANDBOX_EXEC_NOT_FOUND');
  t.is(parseHelperStatus('error\tsetup\tpivot_root: EINVAL\n').error?.code, 'SANDBOX_SETUP_FAILED');
});

test('cpu shares map to cgroup v2 weights like runc', (t) => {
  t.is(sharesToWeight(2), 1);
  t.is(sharesToWeight(1024), 39);
  t.is(sharesToWeight(262144), 10000);
});

test('default /etc/hosts names localhost and the hostname', (t) => {
  t.is(defaultHosts('box'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\tbox\n');
});
