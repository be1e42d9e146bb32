// What the fsop helper starts for a build as it starts (helper/fsop-children.c):
// a RUN's network namespace holder and a sandbox helper waiting for its
// config, forks of the small helper instead of this whole process. They
// start as this process's own children would (host mount namespace,
// default signals, our umask, only their own fds), their pids come as the
// helper's first reply, and the RUN's lease and run take them.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import test from 'ava';
import { FsopHelper, privateFsop, takePrivateFsopChild } from '../runner-native/fsop.js';
import { leaseNetworkNamespace, netnsHolderChild } from '../runner-native/network-pool.js';
import { Sandbox } from '../runner-native/sandbox.js';
import { defaultSpec } from '../runner-native/spec.js';
import { sandboxHelperChild, takeWaitingHelper } from '../runner-native/waiting-helper.js';
import { defaultHelperPath } from '../runner-native/availability.js';
import { busyboxMissing, makeOverlayDirs, writeBusyboxLayer } from '../runner-native/testing/busybox-rootfs.js';
import { removeCgroupParent } from '../runner-native/testing/host-state.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';
import { needsRoot, runIf, toolMissing } from './helpers/skip.js';

const base = await tempDir('tsbuild-fsop-children-');
const cgroupParent = `tsbuild-test-${process.pid}`;
const sandbox = new Sandbox({ stateDir: join(base, 'state'), cgroupParent });
const availability = process.getuid?.() === 0 ? await sandbox.available() : { ok: false as const, reason: 'needs root' };
const lower = join(base, 'lower');
const runSkip = needsRoot() ?? busyboxMissing() ?? (availability.ok ? undefined : availability.reason);
if (!runSkip) writeBusyboxLayer(lower);
test.after.always(async () => {
  await removeTempDir(base);
  removeCgroupParent(cgroupParent);
});

function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

async function until(what: () => boolean): Promise<boolean> {
  for (let i = 0; i < 250 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
  return what();
}

function readAll(s: Socket): Promise<string> {
  let text = '';
  s.setEncoding('utf8');
  s.ref();
  return new Promise((resolve) => {
    s.on('data', (c: string) => { text += c; });
    s.once('close', () => resolve(text));
  });
}

// Helpers (tsbuild-sandbox) whose parent is `ppid`, with this argument.
function helpersOf(ppid: number, arg: string): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    try {
      return stat(pid)?.ppid === ppid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(arg);
    } catch {
      return false;
    }
  });
}

runIf(needsRoot(), test.serial)('a child starts as ours would: host mount namespace, default signals, our umask, only its own fds', async (t) => {
  const script = 'readlink /proc/self/ns/mnt; grep ^SigIgn /proc/self/status; grep ^SigBlk /proc/self/status; umask; read line; echo "got $line"';
  const h = new FsopHelper(true, undefined, [{ key: 'probe', args: ['/bin/sh', '-c', script], fds: [0, 1] }]);
  try {
    const child = h.takeChild('probe')!;
    t.truthy(child);
    t.is(h.takeChild('probe'), undefined, 'taken once');
    const pid = await child.pid;
    t.true(pid > 0);
    t.is(stat(pid)?.ppid, h.pid, "the helper's child, not ours");
    const [stdin, stdout] = child.stdio as [Socket, Socket];
    let shown = '';
    stdout.on('data', (c: Buffer) => { shown += c.toString(); });
    const out = readAll(stdout);
    // at its `read`: what it holds is what it was given
    t.true(await until(() => shown.split('\n').length > 4 && stat(pid)?.state === 'S'));
    t.deepEqual(readdirSync(`/proc/${pid}/fd`).sort(), ['0', '1'], 'its stdin and stdout, nothing of the helper\'s');
    stdin.end('hello\n');
    const [mnt, sigIgn, sigBlk, umask, got] = (await out).trim().split('\n');
    t.is(mnt, readlinkSync('/proc/self/ns/mnt'), "the host's mount namespace");
    t.not(readlinkSync(`/proc/${h.pid}/ns/mnt`), mnt, 'the helper itself is in its private one');
    t.is(sigIgn, 'SigIgn:\t0000000000000000', 'no signal ignored (the helper ignores SIGPIPE)');
    t.is(sigBlk, 'SigBlk:\t0000000000000000');
    t.is(Number.parseInt(umask!, 8), process.umask(), 'our umask (the helper sets 0 for itself)');
    t.is(got, 'got hello');
    t.true(await until(() => stat(pid)?.state === 'Z'), 'a dead child stays the helper\'s zombie (its pid stays its own)');
  } finally {
    h.close();
  }
});

runIf(needsRoot(), test.serial)('a child that cannot start shows as pid 0 or its stdio closing, and the helper serves on', async (t) => {
  const h = new FsopHelper(false, undefined, [{ key: 'gone', args: ['/nonexistent/program'], fds: [0] }]);
  try {
    const child = h.takeChild('gone')!;
    const [io] = child.stdio as [Socket];
    await readAll(io);
    t.pass('its only socket closed');
    t.is(await h.getXattr('/', '', 'user.tsbuild-none'), null, 'requests are answered after the pids');
  } finally {
    h.close();
  }
});

runIf(runSkip ?? toolMissing('slirp4netns'), test.serial)('a RUN takes the namespace holder and the waiting sandbox helper the private fsop helper started', async (t) => {
  const fsop = privateFsop([netnsHolderChild(), sandboxHelperChild()]);
  await until(() => helpersOf(fsop.pid, '--config-on-stdin').length === 1);
  const [waiting] = helpersOf(fsop.pid, '--config-on-stdin');
  t.truthy(waiting, 'started ahead of the run, by the helper');
  const lease = await leaseNetworkNamespace();
  const holder = Number(/^\/proc\/(\d+)\/ns\/net$/.exec(lease.namespacePath)?.[1]);
  t.is(stat(holder)?.ppid, fsop.pid, "the helper's holder");
  t.regex(readFileSync(`/proc/${holder}/net/dev`, 'utf8'), /^\s*tap0:/m, 'with slirp4netns up');
  const dirs = await makeOverlayDirs(base, [lower]);
  const spec = defaultSpec({ args: ['sh', '-c', 'echo out; echo err >&2; hostname; exit 3'], rootPath: dirs.merged, rootLayers: dirs, hostname: 'waited', network: { namespacePath: lease.namespacePath } });
  let stdout = '';
  let stderr = '';
  const result = await sandbox.run(spec, { stdout: (c) => { stdout += c.toString(); }, stderr: (c) => { stderr += c.toString(); } });
  t.is(result.exitCode, 3);
  t.is(stdout, 'out\nwaited\n');
  t.is(stderr, 'err\n');
  t.is(stat(waiting!)?.state, 'Z', 'the waiting helper ran it (and is the fsop helper\'s zombie now)');
  t.is(takePrivateFsopChild('sandbox'), undefined);
  // The next run spawns a helper of its own.
  const next = await makeOverlayDirs(base, [lower]);
  const again = await sandbox.run(defaultSpec({ args: ['sh', '-c', 'echo again'], rootPath: next.merged, rootLayers: next }), { stdout: (c) => { stdout += c.toString(); } });
  t.is(again.exitCode, 0);
  t.true(stdout.endsWith('again\n'));
  lease.release(true);
  t.true(await until(() => stat(holder)?.state !== 'S'), 'a discarded holder ends');
});

runIf(runSkip, test.serial)('an abort kills a waiting helper\'s run; one never handed a config exits at the end of its stdin; runs it cannot serve leave it', async (t) => {
  // A fresh helper: the private one's waiting helper was taken above.
  const fsop = new FsopHelper(true, undefined, [sandboxHelperChild()]);
  try {
    const child = fsop.takeChild('sandbox')!;
    const pid = await child.pid;
    t.true(await until(() => stat(pid)?.state === 'S'), 'waiting');
    for (const s of child.stdio) s.destroy();
    t.true(await until(() => stat(pid)?.state === 'Z'), 'gone quietly');
  } finally {
    fsop.close();
  }
  // The abort: through a waiting helper of the private helper, started again for this.
  const used = privateFsop();
  used.close();
  await until(() => !used.alive);
  const fresh = privateFsop([sandboxHelperChild()]);
  await until(() => helpersOf(fresh.pid, '--config-on-stdin').length === 1);
  const [waiting] = helpersOf(fresh.pid, '--config-on-stdin');
  // Runs it cannot serve leave it for the next: input, output to a descriptor, a path it cannot read as a line.
  for (const [config, opts] of [['/a/helper.conf', { stdin: 'input' }], ['/a/helper.conf', { stdout: 'inherit' }], ['/a\nb/helper.conf', {}]] as const) {
    t.is(await takeWaitingHelper(defaultHelperPath(), config, opts), undefined);
  }
  const dirs = await makeOverlayDirs(base, [lower]);
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(new Error('stop')), 300);
  const err = await t.throwsAsync(sandbox.run(defaultSpec({ args: ['sleep', '30'], rootPath: dirs.merged, rootLayers: dirs }), { signal: ac.signal }));
  t.is(err?.name, 'AbortError');
  t.true(Date.now() - started < 10_000);
  t.is(stat(waiting!)?.state, 'Z', 'that helper ran it, and was killed');
});
