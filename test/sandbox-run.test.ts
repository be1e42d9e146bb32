// End-to-end: real namespaces, overlay and cgroups, with a busybox image.
// Needs root, overlayfs, cgroups, the compiled helper and /bin/busybox;
// without them every test is skipped with the reason in its title.
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, type RunOptions, type SandboxResult } from '../runner-native/sandbox.js';
import { defaultSpec, type DefaultSpecOptions, type SandboxSpec } from '../runner-native/spec.js';
import { busyboxMissing, makeOverlayDirs, writeBusyboxLayer, type OverlayDirs } from '../runner-native/testing/busybox-rootfs.js';
import { hostState, newSince, removeCgroupParent } from '../runner-native/testing/host-state.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';
import { runIf } from './helpers/skip.js';

const base = await tempDir('tsbuild-runner-');
const stateDir = join(base, 'state');
const cgroupParent = `tsbuild-test-${process.pid}`;
const sandbox = new Sandbox({ stateDir, cgroupParent });
const watched = { base, helperPath: sandbox.helperPath, stateDir, cgroupParent };
const availability = await sandbox.available();
const skipReason = busyboxMissing() ?? (availability.ok ? null : availability.reason);
const lower = join(base, 'lower');

if (!skipReason) writeBusyboxLayer(lower);
test.after.always(async () => {
  await removeTempDir(base);
  removeCgroupParent(cgroupParent);
});

// Runs change host-global things (cgroups, mounts): one at a time, so the
// "nothing left behind" check of each run is exact.
const sandboxTest = runIf(skipReason ?? undefined, test.serial);

interface Run {
  result: SandboxResult;
  stdout: string;
  stderr: string;
  dirs: OverlayDirs;
}

async function expectNothingLeft(t: ExecutionContext, before: ReturnType<typeof hostState>): Promise<void> {
  const left = newSince(before, hostState(watched));
  t.deepEqual(left, { mounts: [], cgroups: [], processes: [], stateEntries: [] }, 'the run left something on the host');
}

async function runIn(
  t: ExecutionContext, script: string,
  specOpts: Partial<DefaultSpecOptions> = {}, runOpts: RunOptions = {}, edit?: (s: SandboxSpec) => void,
): Promise<Run> {
  const dirs = await makeOverlayDirs(base, [lower]);
  const spec = defaultSpec({ args: ['sh', '-c', script], rootPath: dirs.merged, rootLayers: dirs, hostname: 'sandbox-test', ...specOpts });
  edit?.(spec);
  const before = hostState(watched);
  let stdout = '';
  let stderr = '';
  try {
    const result = await sandbox.run(spec, {
      stdout: (c) => { stdout += c.toString(); },
      stderr: (c) => { stderr += c.toString(); },
      ...runOpts,
    });
    return { result, stdout, stderr, dirs };
  } finally {
    await expectNothingLeft(t, before);
  }
}

sandboxTest('the command is PID 1 with its own hostname, env and cwd, and cannot see the host', async (t) => {
  const { result, stdout } = await runIn(t, 'echo pid=$$; tr "\\0" " " < /proc/1/cmdline; echo; hostname; cat /etc/hostname; echo foo=$FOO; pwd; ls -d /work 2>&1; ls /proc | grep -c "^[0-9]"', {
    env: ['FOO=bar baz'], cwd: '/app/src',
  });
  t.is(result.exitCode, 0);
  const lines = stdout.trim().split('\n');
  t.is(lines[0], 'pid=1');
  t.regex(lines[1]!, /^sh -c echo pid/, 'PID 1 is the command itself');
  t.is(lines[2], 'sandbox-test');
  t.is(lines[3], 'sandbox-test');
  t.is(lines[4], 'foo=bar baz');
  t.is(lines[5], '/app/src');
  t.regex(lines[6]!, /No such file or directory/);
  // sh, ls and grep: nothing of the host's processes is visible
  t.true(Number(lines[7]) <= 3, `processes visible: ${lines[7]}`);
});

sandboxTest('capabilities are Docker\'s default set and privileged operations fail', async (t) => {
  const { result, stdout, stderr } = await runIn(t, [
    'grep -E "^Cap(Eff|Bnd|Prm)" /proc/self/status',
    'mount -t tmpfs none /tmp && echo MOUNTED',
    'echo x > /proc/sys/kernel/hostname && echo WROTE_PROC_SYS',
    'echo x > /proc/sys/vm/drop_caches && echo WROTE_PROC_SYS',
    'stat -c "keys=%F" /proc/keys',
    'echo firmware=$(ls /sys/firmware | wc -l)',
    'touch /sys/x 2>/dev/null && echo WROTE_SYS',
    'echo end',
  ].join('; '));
  t.is(result.exitCode, 0);
  t.regex(stdout, /CapPrm:\s+00000000a80425fb/);
  t.regex(stdout, /CapEff:\s+00000000a80425fb/);
  t.regex(stdout, /CapBnd:\s+00000000a80425fb/);
  t.notRegex(stdout, /MOUNTED|WROTE_/);
  t.regex(stderr, /mount.*(operation not permitted|permission denied)/i);
  t.regex(stderr, /hostname: Read-only file system/);
  t.regex(stderr, /drop_caches: Read-only file system/);
  // masked paths (those this kernel has): a file becomes /dev/null, a dir an empty tmpfs
  if (existsSync('/proc/keys')) t.regex(stdout, /^keys=character special file$/m);
  if (existsSync('/sys/firmware')) t.regex(stdout, /^firmware=0$/m);
  t.regex(stdout, /end\n$/);
});

sandboxTest('a network namespace has only lo, and it is up; host network shows the host\'s devices', async (t) => {
  const isolated = await runIn(t, 'ls /sys/class/net; cat /sys/class/net/lo/flags; tail -n +3 /proc/net/dev | cut -d: -f1');
  t.is(isolated.result.exitCode, 0);
  const [devices, flags, ...procDevices] = isolated.stdout.trim().split('\n');
  t.is(devices, 'lo');
  t.is(Number(flags) & 1, 1, 'IFF_UP');
  t.deepEqual(procDevices.map((d) => d.trim()), ['lo']);

  const host = await runIn(t, 'ls /sys/class/net', { network: 'host' });
  t.deepEqual(host.stdout.trim().split(/\s+/).sort(), readdirSync('/sys/class/net').sort());
});

sandboxTest('a non-root user has no capabilities and cannot write root\'s files', async (t) => {
  const { result, stdout, stderr } = await runIn(t, 'id -u; id -g; id -G; grep CapEff /proc/self/status; echo x >> /etc/root-only && echo WROTE; cat /etc/root-only; exit 4', {
    user: { uid: 65534, gid: 65534, additionalGids: [1234] },
  });
  t.is(result.exitCode, 4);
  const lines = stdout.trim().split('\n');
  t.deepEqual(lines.slice(0, 3), ['65534', '65534', '65534 1234']);
  t.regex(lines[3]!, /CapEff:\s+0000000000000000/);
  t.notRegex(stdout, /WROTE/);
  t.regex(stderr, /Permission denied/);
  t.is(lines[4], 'owned by root');
});

sandboxTest('exit codes propagate and writes land in the upper dir only', async (t) => {
  const { result, dirs } = await runIn(t, 'echo hi > /made-here; rm /etc/group; exit 3');
  t.is(result.exitCode, 3);
  t.is(result.signal, null);
  t.false(result.oomKilled);
  t.is(readFileSync(join(dirs.upperDir, 'made-here'), 'utf8'), 'hi\n');
  t.true(existsSync(join(lower, 'etc', 'group')), 'the lower layer is untouched');
  t.true(existsSync(join(dirs.upperDir, 'etc', 'group')), 'the deletion is a whiteout in the upper dir');
  // mountpoints the busybox image lacked are reported, so they can be kept out of the layer
  t.true(result.createdPaths.includes('/proc'));
  t.true(result.createdPaths.includes('/etc/resolv.conf'));
  t.false(result.createdPaths.includes('/dev/pts'), '/dev/pts lives in the /dev tmpfs, not in the image');
});

sandboxTest('a memory limit OOM-kills a big allocation and reports it', async (t) => {
  // awk as PID 1 doubling a string: 64 MiB are gone after a few rounds
  const { result } = await runIn(t, '', { resources: { memory: { limit: 64 * 1024 * 1024 } } }, {}, (spec) => {
    spec.process.args = ['awk', 'BEGIN { s = "x"; while (1) s = s s }'];
  });
  t.true(result.oomKilled);
  t.is(result.signal, 'SIGKILL');
  t.is(result.exitCode, null);
});

sandboxTest('an OOM kill of a child is reported too', async (t) => {
  const { result, stdout } = await runIn(t, 'awk "BEGIN { s = \\"x\\"; while (1) s = s s }"; echo awk=$?', {
    resources: { memory: { limit: 64 * 1024 * 1024 } },
  });
  t.is(result.exitCode, 0);
  t.is(stdout.trim(), 'awk=137');
  t.true(result.oomKilled);
});

sandboxTest('a pids limit stops a fork loop', async (t) => {
  // the inner shell prints how many children it started before fork failed
  // (busybox sh then gives up with status 2); echo is a builtin, so the
  // outer shell can still report with the limit reached
  const loop = 'i=0; while [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); echo $i; done';
  const { result, stdout, stderr } = await runIn(t, `sh -c '${loop}'; echo inner=$?`, {
    resources: { pids: { limit: 20 } },
  });
  t.is(result.exitCode, 0);
  const lines = stdout.trim().split('\n');
  t.is(lines.at(-1), 'inner=2');
  const started = Number(lines.at(-2));
  t.true(started >= 10 && started < 20, `children started: ${started}`);
  t.regex(stderr, /can't fork/);
});


// The init moves itself into its cgroups (cgroup v1: through each
// hierarchy's `tasks` file) before anything of the user's runs: the
// command and a child it forks are in the run's cgroup in every hierarchy.
sandboxTest('the command and its children are in the run\'s cgroup of every hierarchy from the start', async (t) => {
  const { result, stdout } = await runIn(t, 'cat /proc/1/cgroup; echo ---; sh -c "cat /proc/self/cgroup"', {
    resources: { pids: { limit: 50 } },
  });
  t.is(result.exitCode, 0);
  const [init, child] = stdout.split('---\n').map((part) => part.trim().split('\n'));
  for (const lines of [init!, child!]) {
    // the hierarchies tsbuild makes a cgroup in (on v2: the one unified line)
    const ours = lines.filter((l) => l.split(':')[1]!.split(',').some((c) => ['memory', 'cpu', 'pids', 'devices'].includes(c)) || l.startsWith('0::'));
    t.true(ours.length > 0, stdout);
    for (const line of ours) {
      if (line.startsWith('0::') && ours.length > 1) continue; // a hybrid host's controller-less v2 line
      t.true(line.split(':')[2]!.includes(`/${cgroupParent}/`), `${line} (all: ${lines.join(' | ')})`);
    }
  }
  t.deepEqual(init, child);
});
sandboxTest('aborting kills a long command quickly, and every process with it', async (t) => {
  const controller = new AbortController();
  const started = Date.now();
  const run = runIn(t, 'sleep 1000 & sleep 1000 & echo started; sleep 1000', {}, {
    signal: controller.signal,
    stdout: (chunk) => { if (chunk.toString().includes('started')) controller.abort(); },
  });
  const err = await t.throwsAsync(run);
  t.is(err?.name, 'AbortError');
  t.is((err as { code?: string }).code, 'ABORT_ERR');
  t.true(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

sandboxTest('timeoutMs kills the command and says so', async (t) => {
  const err = await t.throwsAsync(runIn(t, 'sleep 1000', {}, { timeoutMs: 300 }));
  t.is((err as { code?: string }).code, 'SANDBOX_TIMEOUT');
});

sandboxTest('a missing command is a clear error', async (t) => {
  const err = await t.throwsAsync(runIn(t, '', {}, {}, (spec) => { spec.process.args = ['no-such-tool', '--x']; }));
  t.is((err as { code?: string }).code, 'SANDBOX_EXEC_NOT_FOUND');
  t.regex(err!.message, /"no-such-tool": executable file not found in \$PATH/);
});

sandboxTest('bind mounts: read-only stays read-only, stdin is passed through', async (t) => {
  const shared = join(base, 'shared');
  mkdirSync(shared, { recursive: true });
  writeFileSync(join(shared, 'data'), 'from host\n');
  const { result, stdout, stderr } = await runIn(t, 'cat /mnt/shared/data; echo x > /mnt/shared/new || echo RO; cat', {
    mounts: [{ destination: '/mnt/shared', type: 'bind', source: shared, options: ['ro'] }],
  }, { stdin: 'via stdin\n' });
  t.is(result.exitCode, 0);
  t.is(stdout, 'from host\nRO\nvia stdin\n');
  t.regex(stderr, /Read-only file system/);
  t.false(existsSync(join(shared, 'new')));
});

sandboxTest('a read-only root refuses writes outside its mounts', async (t) => {
  const { result, stdout } = await runIn(t, 'touch /x 2>/dev/null || echo ROOT_RO; echo ok > /dev/shm/y && cat /dev/shm/y', { readonlyRoot: true });
  t.is(result.exitCode, 0);
  t.is(stdout, 'ROOT_RO\nok\n');
});

sandboxTest('symlinks in the image cannot redirect mounts to the host', async (t) => {
  // an image whose /mnt/escape points at the host's /tmp (and ../..-style)
  const evil = join(base, 'evil-layer');
  mkdirSync(join(evil, 'mnt'), { recursive: true });
  const { symlinkSync } = await import('node:fs');
  symlinkSync('/../../../../tmp', join(evil, 'mnt', 'escape'));
  const shared = join(base, 'payload');
  mkdirSync(shared, { recursive: true });
  const dirs = await makeOverlayDirs(base, [evil, lower]);
  const spec = defaultSpec({ args: ['sh', '-c', 'ls /tmp/escape-target'], rootPath: dirs.merged, rootLayers: dirs });
  spec.mounts.push({ destination: '/mnt/escape/escape-target', type: 'bind', source: shared, options: ['ro'] });
  const before = hostState(watched);
  const result = await sandbox.run(spec);
  await expectNothingLeft(t, before);
  t.is(result.exitCode, 0, 'the mount landed on the image\'s /tmp');
  t.false(existsSync('/tmp/escape-target'), 'nothing was created on the host');
});

sandboxTest('a plain rootfs dir works as root without layers', async (t) => {
  const plain = join(base, 'plain-root');
  writeBusyboxLayer(plain);
  const spec = defaultSpec({ args: ['sh', '-c', 'echo $$; touch /x 2>/dev/null || echo RO'], rootPath: plain, readonlyRoot: true });
  const before = hostState(watched);
  let stdout = '';
  const result = await sandbox.run(spec, { stdout: (c) => { stdout += c.toString(); } });
  await expectNothingLeft(t, before);
  t.is(result.exitCode, 0);
  t.is(stdout, '1\nRO\n');
  t.false(existsSync(join(plain, 'x')));
});
