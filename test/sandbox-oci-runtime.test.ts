// `runtime: 'runc' | 'crun'`: the same SandboxSpec run by an installed OCI
// runtime must behave like the native sandbox. Needs root, the native
// sandbox, /bin/busybox and runc/crun (apt-get install runc crun); missing
// pieces skip the tests with the reason in their title.
import test, { type ExecutionContext } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitStatus, findOciRuntime, ociRuntimeCgroupProblem, type SandboxRuntime } from '../runner-native/oci-runtime.js';
import { toOciConfig } from '../runner-native/oci-runtime-config.js';
import { overlayMountData } from '../runner-native/oci-runtime-rootfs.js';
import { Sandbox, type RunOptions, type SandboxResult } from '../runner-native/sandbox.js';
import { defaultSpec, type SandboxSpec } from '../runner-native/spec.js';
import { busyboxMissing, makeOverlayDirs, writeBusyboxLayer, type OverlayDirs } from '../runner-native/testing/busybox-rootfs.js';
import { hostState, newSince, removeCgroupParent } from '../runner-native/testing/host-state.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

const base = await tempDir('tsbuild-oci-');
const stateDir = join(base, 'state');
const cgroupParent = `tsbuild-oci-test-${process.pid}`;
const sandbox = new Sandbox({ stateDir, cgroupParent });
const watched = { base, helperPath: sandbox.helperPath, stateDir, cgroupParent };
const availability = await sandbox.available();
const commonSkip = busyboxMissing() ?? (availability.ok ? null : availability.reason);
const lower = join(base, 'lower');
if (!commonSkip) writeBusyboxLayer(lower);
test.after.always(async () => {
  await removeTempDir(base);
  removeCgroupParent(cgroupParent);
});

function skipReason(runtime: 'runc' | 'crun'): string | null {
  return commonSkip ?? (findOciRuntime(runtime) ? null : `${runtime} is not installed`) ?? ociRuntimeCgroupProblem(runtime);
}

interface Run { result: SandboxResult; stdout: string; stderr: string; dirs: OverlayDirs }

async function runIn(t: ExecutionContext, runtime: SandboxRuntime, script: string, runOpts: RunOptions = {}, edit?: (s: SandboxSpec) => void): Promise<Run> {
  const dirs = await makeOverlayDirs(base, [lower]);
  const spec = defaultSpec({ args: ['sh', '-c', script], rootPath: dirs.merged, rootLayers: dirs, hostname: 'oci-test' });
  edit?.(spec);
  const before = hostState(watched);
  let stdout = '';
  let stderr = '';
  try {
    const result = await sandbox.run(spec, {
      runtime, stdout: (c) => { stdout += c.toString(); }, stderr: (c) => { stderr += c.toString(); }, ...runOpts,
    });
    return { result, stdout, stderr, dirs };
  } finally {
    t.deepEqual(newSince(before, hostState(watched)), { mounts: [], cgroups: [], processes: [], stateEntries: [] }, `${runtime} left something on the host`);
  }
}

test('toOciConfig: a bind mount gets rbind, the cgroup path and resources are carried over', (t) => {
  const spec = defaultSpec({
    args: ['true'], rootPath: '/r', hostname: 'h', resources: { memory: { limit: 1 << 20 }, pids: { limit: 10 } },
    mounts: [{ destination: '/cache', type: 'bind', source: '/host/cache', options: ['ro'] }],
  });
  const config = toOciConfig(spec, { cgroupsPath: '/tsbuild/x' });
  t.is(config.ociVersion, '1.0.2');
  t.deepEqual(config.mounts.at(-1), { destination: '/cache', type: 'bind', source: '/host/cache', options: ['rbind', 'ro'] });
  t.is(config.linux.cgroupsPath, '/tsbuild/x');
  t.like(config.linux.resources as object, { memory: { limit: 1 << 20 }, pids: { limit: 10 } });
  t.is(config.hostname, 'h');
  t.false((config.process as { terminal: boolean }).terminal);
  t.throws(() => toOciConfig({ ...spec, linux: { ...spec.linux, namespaces: [{ type: 'mount' }] } }, { cgroupsPath: '/x' }), { message: /pid namespace/ });
});

// PID 1 cannot signal itself to death (the kernel ignores it), so the 128+N mapping is checked directly.
test('exitStatus: 128+N from the runtime is signal N', (t) => {
  t.deepEqual(exitStatus(137), { exitCode: null, signal: 'SIGKILL' });
  t.deepEqual(exitStatus(3), { exitCode: 3, signal: null });
});

test('overlayMountData: same options as the native helper', (t) => {
  const { data, cwd } = overlayMountData({ lowerDirs: ['/l2', '/l1'], upperDir: '/u', workDir: '/w' });
  t.is(data, 'lowerdir=/l2:/l1,upperdir=/u,workdir=/w,volatile,index=off,xino=off,redirect_dir=off,metacopy=off');
  t.is(cwd, '/');
});

for (const runtime of ['runc', 'crun'] as const) {
  const reason = skipReason(runtime);
  const ociTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
    reason ? test.skip(`${runtime}: ${title} (skipped: ${reason})`, () => undefined) : test.serial(`${runtime}: ${title}`, fn);

  ociTest('identity, hostname, capabilities and network match the native sandbox', async (t) => {
    const script = 'id; hostname; cat /etc/hostname; grep CapEff /proc/self/status; ls /sys/class/net; echo pid=$$';
    const native = await runIn(t, 'native', script);
    const oci = await runIn(t, runtime, script);
    t.is(native.result.exitCode, 0);
    t.deepEqual(oci.result, { exitCode: 0, signal: null, oomKilled: false, createdPaths: [] });
    t.is(oci.stdout, native.stdout);
    t.regex(oci.stdout, /uid=0\(root\)[\s\S]*oci-test\noci-test\nCapEff:\s*00000000a80425fb\nlo\npid=1\n/);
  });

  ociTest('the exit code is passed through', async (t) => {
    t.like((await runIn(t, runtime, 'exit 3')).result, { exitCode: 3, signal: null });
  });

  ociTest('writes land in the overlay upper dir, the lower layer is untouched', async (t) => {
    const { result, dirs } = await runIn(t, runtime, 'echo hello > /tmp/new-file && rm /etc/root-only');
    t.is(result.exitCode, 0);
    t.is(readFileSync(join(dirs.upperDir, 'tmp', 'new-file'), 'utf8'), 'hello\n');
    t.true(existsSync(join(lower, 'etc', 'root-only')));
  });

  ociTest('a missing command is reported as such', async (t) => {
    const err = await t.throwsAsync(runIn(t, runtime, '', {}, (s) => { s.process.args = ['/no/such-binary']; }));
    t.is((err as { code?: string }).code, 'SANDBOX_EXEC_NOT_FOUND', err?.message);
  });

  ociTest('abort kills `sleep 100` quickly and leaves nothing behind', async (t) => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 500);
    const err = await t.throwsAsync(runIn(t, runtime, 'sleep 100', { signal: controller.signal }));
    t.is(err?.name, 'AbortError');
    t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  ociTest('a timeout kills the command', async (t) => {
    const err = await t.throwsAsync(runIn(t, runtime, 'sleep 100', { timeoutMs: 300 }));
    t.is((err as { code?: string }).code, 'SANDBOX_TIMEOUT');
  });
}
