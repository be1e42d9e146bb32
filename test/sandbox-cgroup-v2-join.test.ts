// A real sandbox run with its cgroup in a cgroup v2 hierarchy: the host's
// own (a v2 host), or the controller-less unified mount of a hybrid host.
// The helper creates the container's first process in its cgroup with
// clone3(CLONE_INTO_CGROUP) and falls back to a cgroup.procs write where
// clone3 is refused (forced here through the helper's test hook,
// TSBUILD_SANDBOX_NO_CLONE3). Either
// way the command and the children it forks are in the run's cgroup before
// the command runs, and the cgroup is gone after the run. Limits are not
// checked here: a hybrid host's v2 mount has no controllers.
import test, { type ExecutionContext } from 'ava';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { CGROUP_ROOT, cgroupVersion } from '../runner-native/cgroup.js';
import { execInContainer } from '../runner-native/exec.js';
import { Sandbox } from '../runner-native/sandbox.js';
import { defaultSpec } from '../runner-native/spec.js';
import { busyboxMissing, makeOverlayDirs, writeBusyboxLayer } from '../runner-native/testing/busybox-rootfs.js';
import { hostState, newSince, removeCgroupParent } from '../runner-native/testing/host-state.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';
import { runIf } from './helpers/skip.js';

const UNIFIED = join(CGROUP_ROOT, 'unified');
const v2Root = cgroupVersion() === 2 ? CGROUP_ROOT : cgroupVersion(UNIFIED) === 2 ? UNIFIED : null;
const base = await tempDir('tsbuild-cgroup-v2-');
const stateDir = join(base, 'state');
const cgroupParent = `tsbuild-cgv2-${process.pid}`;
const sandbox = v2Root ? new Sandbox({ stateDir, cgroupParent, cgroupRoot: v2Root }) : null;
const availability = sandbox ? await sandbox.available() : null;
const skipReason = busyboxMissing() ?? (!v2Root ? 'no cgroup v2 hierarchy mounted' : availability!.ok ? null : availability!.reason);
const lower = join(base, 'lower');
if (!skipReason) writeBusyboxLayer(lower);

test.after.always(async () => {
  await removeTempDir(base);
  removeCgroupParent(cgroupParent);
});

const sandboxTest = runIf(skipReason ?? undefined, test.serial);

function exeOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

// The script's first command prints the init's v2 cgroup, then a child it
// forks prints its own: both must be the run's cgroup.
async function checkRunCgroup(t: ExecutionContext, name: string): Promise<void> {
  const cgroupsPath = `${cgroupParent}/${name}`;
  const dirs = await makeOverlayDirs(base, [lower]);
  const spec = defaultSpec({
    args: ['sh', '-c', 'grep "^0::" /proc/1/cgroup; sh -c \'echo child=$$; grep "^0::" /proc/self/cgroup\'; echo end'],
    rootPath: dirs.merged, rootLayers: dirs,
  });
  spec.linux.cgroupsPath = cgroupsPath;
  const watched = { base, helperPath: sandbox!.helperPath, stateDir, cgroupParent };
  const before = hostState(watched);
  let stdout = '';
  let stderr = '';
  const result = await sandbox!.run(spec, { stdout: (c) => { stdout += c.toString(); }, stderr: (c) => { stderr += c.toString(); } });
  t.is(result.exitCode, 0, stderr);
  const [init, childPid, child] = stdout.trim().split('\n');
  t.is(init, `0::/${cgroupsPath}`, stdout);
  t.is(child, `0::/${cgroupsPath}`, stdout);
  t.regex(childPid ?? '', /^child=([2-9]|\d\d+)$/, 'the child is a new process, not PID 1');
  t.false(existsSync(join(v2Root!, cgroupsPath)), 'the run\'s cgroup is removed');
  t.deepEqual(newSince(before, hostState(watched)), { mounts: [], cgroups: [], processes: [], stateEntries: [] }, 'the run left something on the host');
}

sandboxTest('cgroup v2: the command and its child are in the run\'s cgroup (created there by clone3)', async (t) => {
  await checkRunCgroup(t, 'clone3');
});

sandboxTest('cgroup v2: without clone3 the helper moves the command into the run\'s cgroup before it runs', async (t) => {
  process.env.TSBUILD_SANDBOX_NO_CLONE3 = '1';
  try {
    await checkRunCgroup(t, 'fallback');
  } finally {
    delete process.env.TSBUILD_SANDBOX_NO_CLONE3;
  }
});

// `exec` into a running container: its process is created in the
// container's cgroup the same way.
for (const [title, noClone3] of [['clone3', false], ['fallback', true]] as const) {
  sandboxTest(`cgroup v2: an exec'd process is in the container's cgroup (${title})`, async (t) => {
    const cgroupsPath = `${cgroupParent}/exec-${title}`;
    const dirs = await makeOverlayDirs(base, [lower]);
    const spec = defaultSpec({ args: ['sleep', '30'], rootPath: dirs.merged, rootLayers: dirs });
    spec.linux.cgroupsPath = cgroupsPath;
    const controller = new AbortController();
    const running = sandbox!.run(spec, { signal: controller.signal }).catch((err: Error) => err);
    const procs = join(v2Root!, cgroupsPath, 'cgroup.procs');
    // Running once its init exec'd the command, as `tsbuild run -d` waits
    // for (builder/containers/init-process.ts): in the cgroup from its
    // clone, it sets up its namespaces and root only after that, and an
    // exec joining them earlier finds no command (exit 127).
    let initPid = 0;
    for (let i = 0; i < 250 && !initPid; i++) {
      const pid = Number((existsSync(procs) ? readFileSync(procs, 'utf8') : '').split('\n')[0] || 0);
      if (pid && exeOf(pid) !== null && exeOf(pid) !== sandbox!.helperPath) initPid = pid;
      else await sleep(20);
    }
    t.true(initPid > 0, 'the container started');
    if (noClone3) process.env.TSBUILD_SANDBOX_NO_CLONE3 = '1';
    let stdout = '';
    try {
      const execSpec = defaultSpec({ args: ['grep', '^0::', '/proc/self/cgroup'], rootPath: dirs.merged, rootLayers: dirs });
      const result = await execInContainer({ initPid, cgroupsPath }, execSpec.process, {
        stateDir, cgroupRoot: v2Root!, stdout: (c) => { stdout += c.toString(); },
      });
      t.is(result.exitCode, 0);
    } finally {
      delete process.env.TSBUILD_SANDBOX_NO_CLONE3;
      controller.abort();
      await running;
    }
    t.is(stdout.trim(), `0::/${cgroupsPath}`);
    t.false(existsSync(join(v2Root!, cgroupsPath)), 'the container\'s cgroup is removed');
  });
}
