// The sandbox's confinement, probed from inside with real namespaces and
// cgroups: device access (cgroup v1 files, and the v2 BPF program where a
// v2 hierarchy is mounted), the seccomp profile, joining a prepared network
// namespace, and mounts through an image's dangling symlink.
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { cgroupVersion } from '../runner-native/cgroup.js';
import { Sandbox, type SandboxResult } from '../runner-native/sandbox.js';
import { defaultSeccompProfile, type SeccompProfile } from '../runner-native/seccomp.js';
import { defaultSpec, withSeccomp, type DefaultSpecOptions, type SandboxSpec } from '../runner-native/spec.js';
import { busyboxMissing, makeOverlayDirs, writeBusyboxLayer } from '../runner-native/testing/busybox-rootfs.js';
import { hostState, newSince, removeCgroupParent } from '../runner-native/testing/host-state.js';
import { buildConfinementProbe, probeResults } from './helpers/confinement-probe.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

const base = await tempDir('tsbuild-confine-');
const stateDir = join(base, 'state');
const cgroupParent = `tsbuild-confine-${process.pid}`;
const sandbox = new Sandbox({ stateDir, cgroupParent });
const availability = await sandbox.available();
const lower = join(base, 'lower');
const probeLayer = join(base, 'probe-layer');
let skipReason = busyboxMissing() ?? (availability.ok ? null : availability.reason);
if (!skipReason) {
  writeBusyboxLayer(lower);
  mkdirSync(join(probeLayer, 'dev-shipped'), { recursive: true });
  skipReason = buildConfinementProbe(join(probeLayer, 'probe'));
}
// A hybrid host also mounts a v2 hierarchy: there the device rules can be
// checked as the BPF program too, with no v1 devices cgroup involved. On a
// pure v1 host we mount the (controller-less) v2 hierarchy ourselves.
let V2_ROOT = cgroupVersion() === 2 ? '/sys/fs/cgroup' : existsSync('/sys/fs/cgroup/unified/cgroup.controllers') ? '/sys/fs/cgroup/unified' : null;
let ownV2Mount: string | null = null;
if (!V2_ROOT && !skipReason && /\tcgroup2$/m.test(readFileSync('/proc/filesystems', 'utf8'))) {
  const dir = join(base, 'cgroup2');
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'cgroup2', 'none', dir]);
    V2_ROOT = ownV2Mount = dir;
  } catch { /* stays skipped */ }
}
const v2Sandbox = V2_ROOT ? new Sandbox({ stateDir, cgroupParent, cgroupRoot: V2_ROOT }) : null;

test.after.always(async () => {
  if (ownV2Mount) {
    try { rmdirSync(join(ownV2Mount, cgroupParent)); } catch { /* never made */ }
    execFileSync('umount', [ownV2Mount]);
  }
  await removeTempDir(base);
  removeCgroupParent(cgroupParent);
});

const sandboxTest = (title: string, fn: (t: ExecutionContext) => Promise<void>, extraSkip: string | null = null) =>
  skipReason || extraSkip ? test.skip(`${title} (skipped: ${skipReason ?? extraSkip})`, () => undefined) : test.serial(title, fn);

interface Run { result: SandboxResult; stdout: string; stderr: string }

async function runIn(t: ExecutionContext, script: string, specOpts: Partial<DefaultSpecOptions> = {},
  edit?: (s: SandboxSpec) => SandboxSpec | void, using = sandbox, layers = [probeLayer, lower]): Promise<Run> {
  const dirs = await makeOverlayDirs(base, layers);
  let spec = defaultSpec({ args: ['sh', '-c', script], rootPath: dirs.merged, rootLayers: dirs, ...specOpts });
  spec = edit?.(spec) ?? spec;
  const watched = { base, helperPath: using.helperPath, stateDir, cgroupParent };
  const before = hostState(watched);
  let stdout = '';
  let stderr = '';
  const result = await using.run(spec, { stdout: (c) => { stdout += c.toString(); }, stderr: (c) => { stderr += c.toString(); } });
  t.deepEqual(newSince(before, hostState(watched)), { mounts: [], cgroups: [], processes: [], stateEntries: [] }, 'the run left something on the host');
  return { result, stdout, stderr };
}

// The probe: /dev/kmsg (1:11) would write into the host's kernel
// log. mknod itself is allowed (as in Docker), using the node is not.
const DEVICE_SCRIPT = `
mknod /dev/km c 1 11 && echo mknod-ok; (echo tsbuild-device-probe > /dev/km) 2>&1 || echo kmsg-refused
echo x > /dev/null && echo null-ok
head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c
(exec 3<> /dev/ptmx) && echo ptmx-ok
(exec 3< /dev/tty) 2>&1 | grep -q "not permitted" && echo tty-refused || echo tty-not-refused
(exec 3<> /dev-shipped/loop-control) 2>&1 || echo shipped-refused
`;

async function checkDevices(t: ExecutionContext, using: Sandbox): Promise<void> {
  // a device node shipped inside an image layer: /dev/loop-control (10:237)
  const shipped = join(probeLayer, 'dev-shipped', 'loop-control');
  if (!existsSync(shipped)) execFileSync('mknod', [shipped, 'c', '10', '237']);
  const { result, stdout } = await runIn(t, DEVICE_SCRIPT, {}, undefined, using);
  t.is(result.exitCode, 0, stdout);
  t.regex(stdout, /mknod-ok/);
  t.regex(stdout, /Operation not permitted\s+kmsg-refused/, stdout);
  t.regex(stdout, /null-ok/);
  t.regex(stdout, /^4\n4$/m, 'zero and urandom read');
  t.regex(stdout, /ptmx-ok/);
  t.regex(stdout, /tty-not-refused/, 'without a controlling terminal /dev/tty fails with ENXIO, never EPERM');
  t.regex(stdout, /loop-control: Operation not permitted\s+shipped-refused/);
}

sandboxTest('devices: a mknod-ed /dev/kmsg and a device shipped in a layer are refused (EPERM), the standard ones work', async (t) => {
  await checkDevices(t, sandbox);
});

sandboxTest(`devices on cgroup v2 (the helper's BPF program, on ${V2_ROOT}): the same probes give the same answers`, async (t) => {
  await checkDevices(t, v2Sandbox!);
}, V2_ROOT ? null : 'no cgroup v2 hierarchy is mounted');

for (const [label, using, root] of [['v1', sandbox, '/sys/fs/cgroup'], ['v2', v2Sandbox, V2_ROOT]] as const) {
  const skip = !using ? 'no cgroup v2 hierarchy is mounted' : label === 'v1' && cgroupVersion() !== 1 ? 'this host is not cgroup v1' : null;
  sandboxTest(`devices (${label}): a rule's access is honoured: 'r' on /dev/null allows reads, refuses writes`, async (t) => {
    const { stdout } = await runIn(t, 'cat /dev/null && echo read-ok; (echo x > /dev/null) 2>&1 || echo write-refused', {}, (s) => {
      s.linux.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', access: 'm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }] };
    }, using ?? sandbox);
    t.regex(stdout, /read-ok/);
    t.regex(stdout, /Operation not permitted\s+write-refused/, `${root}: ${stdout}`);
  }, skip);
}

const SECCOMP_PROBES = ['add_key', 'keyctl', 'bpf', 'io_uring_setup', 'clone_newuser', 'clone_newns', 'clone3', 'fork',
  'personality_noaslr', 'personality_query', 'vsock', 'inet', 'mkdir'];

sandboxTest('seccomp: the default profile refuses what Docker\'s does, with the same errno, and ordinary calls work', async (t) => {
  const { result, stdout } = await runIn(t, `/probe ${SECCOMP_PROBES.join(' ')}; unshare -U true 2>&1; grep Seccomp: /proc/self/status`);
  t.is(result.exitCode, 0);
  t.deepEqual(probeResults(stdout), {
    add_key: 'EPERM', keyctl: 'EPERM', bpf: 'EPERM', io_uring_setup: 'EPERM', clone_newuser: 'EPERM', clone_newns: 'EPERM',
    // clone3's flags cannot be inspected by a filter: ENOSYS sends the C library back to clone
    clone3: 'ENOSYS', fork: 'ok', personality_noaslr: 'EPERM', personality_query: 'ok', vsock: 'EPERM', inet: 'ok', mkdir: 'ok',
  });
  t.regex(stdout, /unshare.*Operation not permitted/);
  t.regex(stdout, /Seccomp:\s+2/, 'a filter is in force');
});

sandboxTest('seccomp: the compiled program is kept under its rules and reused; another profile gets its own; a damaged one is compiled again', async (t) => {
  // A sandbox of its own: the cache dir is beside its state dir.
  const own = new Sandbox({ stateDir: join(base, 'seccomp-cache-test', 'sandbox'), cgroupParent });
  const cacheDir = join(base, 'seccomp-cache-test', 'seccomp');
  const probe = `/probe ${SECCOMP_PROBES.join(' ')}; grep Seccomp: /proc/self/status`;
  const first = await runIn(t, probe, {}, undefined, own);
  const files = readdirSync(cacheDir);
  t.is(files.length, 1);
  const second = await runIn(t, probe, {}, undefined, own);
  t.is(second.stdout, first.stdout, 'the kept program refuses the same calls');
  t.like(probeResults(second.stdout), { add_key: 'EPERM', clone_newns: 'EPERM', fork: 'ok', mkdir: 'ok' });
  const custom = await runIn(t, '/probe mkdir add_key', { seccomp: withoutMkdir() }, undefined, own);
  t.like(probeResults(custom.stdout), { mkdir: 'EPERM', add_key: 'EPERM' });
  t.is(readdirSync(cacheDir).length, 2, 'other rules, another program');
  // A file whose rule text is not its name's: never used, made again.
  const file = join(cacheDir, files[0]!);
  const good = readFileSync(file);
  writeFileSync(file, Buffer.concat([good.subarray(0, 40), Buffer.from('X'), good.subarray(41)]));
  const third = await runIn(t, probe, {}, undefined, own);
  t.is(third.stdout, first.stdout);
  t.deepEqual(readFileSync(file), good);
});

sandboxTest('seccomp: a non-root user is filtered too (the filter is loaded before the caps are dropped), and mount is refused', async (t) => {
  const { stdout } = await runIn(t, '/probe add_key clone_newuser inet; mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>&1; id -u',
    { user: { uid: 65534, gid: 65534 } });
  t.like(probeResults(stdout), { add_key: 'EPERM', clone_newuser: 'EPERM', inet: 'ok' });
  t.regex(stdout, /mount.*(Operation not permitted|permission denied)/i);
  t.regex(stdout, /^65534$/m);
});

sandboxTest('seccomp: ptrace of a sibling with other credentials fails; a same-uid sibling is traceable, as under Docker (kernel >= 4.8)', async (t) => {
  const { stdout } = await runIn(t, `sleep 30 & s=$!
/probe become:65534 ptrace:$s
/probe ptrace:$s
kill $s`);
  t.deepEqual(stdout.trim().split('\n'), ['become=ok', 'ptrace=EPERM', 'ptrace=ok']);
});

sandboxTest('seccomp: capability-gated calls follow the bounding set: with CAP_SYS_ADMIN, new namespaces and clone3 are allowed', async (t) => {
  const { stdout } = await runIn(t, '/probe clone_newns clone3 add_key', {}, (s) => {
    const caps = [...s.process.capabilities!.bounding, 'CAP_SYS_ADMIN'];
    s.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
    return withSeccomp(s, defaultSeccompProfile());
  });
  // add_key is refused whatever the caps (it is on no allow-list)
  t.deepEqual(probeResults(stdout), { clone_newns: 'ok', clone3: 'ok', add_key: 'EPERM' });
});

function withoutMkdir(): SeccompProfile {
  const p = structuredClone(defaultSeccompProfile());
  for (const s of p.syscalls ?? []) s.names = s.names.filter((n) => n !== 'mkdir' && n !== 'mkdirat');
  return p;
}

sandboxTest('seccomp: a custom profile without mkdir makes mkdir fail; unconfined lifts every refusal', async (t) => {
  const custom = await runIn(t, '/probe mkdir add_key; mkdir /tmp/x 2>&1; echo done', { seccomp: withoutMkdir() });
  t.like(probeResults(custom.stdout), { mkdir: 'EPERM', add_key: 'EPERM' });
  t.regex(custom.stdout, /mkdir.*Operation not permitted/);
  const free = await runIn(t, '/probe mkdir add_key; grep Seccomp: /proc/self/status', { seccomp: 'unconfined' });
  t.like(probeResults(free.stdout), { mkdir: 'ok', add_key: 'ok' });
  t.regex(free.stdout, /Seccomp:\s+0/);
});

sandboxTest('no_new_privs with the filter: both in force', async (t) => {
  const { stdout } = await runIn(t, 'grep -E "NoNewPrivs|Seccomp:" /proc/self/status; /probe add_key', { noNewPrivileges: true });
  t.regex(stdout, /NoNewPrivs:\s+1/);
  t.regex(stdout, /Seccomp:\s+2/);
  t.like(probeResults(stdout), { add_key: 'EPERM' });
});

sandboxTest('network: a sandbox joins a prepared network namespace (its own lo, not the host\'s devices)', async (t) => {
  const holder = spawn('unshare', ['--net', 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await new Promise((r) => setTimeout(r, 100));
    const path = `/proc/${holder.pid}/ns/net`;
    const { stdout } = await runIn(t, 'readlink /proc/self/ns/net; ls /sys/class/net; cat /sys/class/net/lo/operstate', { network: { namespacePath: path } });
    const [ns, ...rest] = stdout.trim().split('\n');
    t.is(ns, readlinkSync(path));
    t.not(ns, readlinkSync('/proc/self/ns/net'));
    t.deepEqual(rest, ['lo', 'unknown'], 'lo only, and up (its operstate is "unknown" when up)');
  } finally {
    holder.stdin!.end();
    await once(holder, 'exit');
  }
});

sandboxTest('mounts: a target below a dangling symlink of the image is created where the link points, inside the root', async (t) => {
  const layer = join(base, 'symlink-layer');
  mkdirSync(layer, { recursive: true });
  if (!existsSync(join(layer, 'data'))) symlinkSync('/srv/data', join(layer, 'data'));
  const host = join(base, 'volume');
  mkdirSync(host, { recursive: true });
  writeFileSync(join(host, 'file'), 'from the host\n');
  const { result, stdout, stderr } = await runIn(t, 'cat /data/sub/file; cat /srv/data/sub/file; readlink /data', {
    mounts: [{ destination: '/data/sub', type: 'bind', source: host, options: ['rbind', 'rw'] }],
  }, undefined, sandbox, [layer, lower]);
  t.is(result.exitCode, 0, stderr);
  t.is(stdout, 'from the host\nfrom the host\n/srv/data\n');
  t.false(existsSync('/srv/data/sub'), 'nothing was created on the host');
});
