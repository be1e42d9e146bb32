// The three snapshotters (overlayfs, fuse-overlayfs, native-copy), each
// forced with TSBUILD_SNAPSHOTTER, build the same image as root's native
// overlay: the same image id with SOURCE_DATE_EPOCH, for a Dockerfile that
// deletes files (whiteouts), replaces directories (opaque), makes a hard
// link to an old file, changes only a mode, makes a directory where an
// earlier layer deleted one, writes through a rw bind mount and copies from
// another stage (read-only views). Run as a real unprivileged user, and the
// fallbacks as root too.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { busyboxAvailable } from '../fixtures/base-images/busybox-rootfs.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { TSBUILD_BIN, tempDir, tsbuild } from './helpers/cli.js';
import { createTestUser, rootlessSkipReason, type TestUser } from './helpers/unprivileged-user.js';

const skip = rootlessSkipReason() ?? (busyboxAvailable() ? undefined : 'needs /bin/busybox (Debian package busybox-static)');
if (skip) test.skip(`rootless snapshotters (skipped: ${skip})`, () => {});

// fuse-overlayfs as a user needs the package and a /dev/fuse others may open.
function fuseSkipReason(): string | undefined {
  if (!existsSync('/usr/bin/fuse-overlayfs')) return 'needs /usr/bin/fuse-overlayfs (Debian package fuse-overlayfs)';
  if (!existsSync('/dev/fuse')) return 'needs /dev/fuse';
  const mode = statSync('/dev/fuse').mode & 0o777;
  if ((mode & 0o006) !== 0o006) return `/dev/fuse is mode 0${mode.toString(8)}: a user cannot open it (scripts/install-system-deps.sh sets Debian's 0666)`;
  return undefined;
}

const DOCKERFILE = `FROM busybox AS other
RUN echo other > /o

FROM busybox
COPY hello.txt /hello.txt
COPY --chown=1234:1234 hello.txt /owned/hello.txt
RUN echo root > /by-root && mkdir -p /work/sub && echo w > /work/sub/f && chmod 700 /etc
RUN rm /by-root && rm -rf /owned && mkdir /owned && echo new > /owned/n && rm /bin/ls && ln /bin/busybox /bin/linked && chmod 750 /work/sub
RUN rm -rf /work
RUN mkdir -p /work/again && echo again > /work/again/f
RUN --mount=type=bind,target=/ctx,rw cat /ctx/hello.txt > /bound && echo x > /ctx/written && test ! -e /written
COPY --from=other /o /o
`;
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

let user: TestUser;
let ctx: string;
let rootId: string;

test.before(async () => {
  if (skip) return;
  user = await createTestUser();
  const work = await tempDir('tsbuild-snapshotters-');
  await chmod(work, 0o755);
  ctx = path.join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(ctx, 'hello.txt'), 'hello\n');
  await user.loadBusybox();
  // The reference: root, the kernel's overlayfs.
  const rootStore = await tempDir('tsbuild-snapshotters-root-');
  await loadBusyboxImage('busybox:latest', rootStore);
  const b = await tsbuild(['build', '-q', ctx], { root: rootStore, env: { ...EPOCH, TSBUILD_SNAPSHOTTER: '' } });
  if (b.code !== 0) throw new Error(b.stderr);
  rootId = b.stdout.trim();
});

test.after.always(() => { user?.remove(); });

const cases: [string, string | undefined][] = [['overlayfs', undefined], ['fuse-overlayfs', fuseSkipReason()], ['native-copy', undefined]];
for (const [name, why] of cases) {
  const reason = skip ?? why;
  const it = reason ? test.skip : test.serial;
  it(`rootless ${name}${reason ? ` (skipped: ${reason})` : ''}: the image equals root's; info names it`, async (t) => {
    const env = { ...EPOCH, TSBUILD_SNAPSHOTTER: name };
    const b = await user.tsbuild(['build', '--no-cache', '-q', ctx], { env });
    t.is(b.code, 0, b.stderr);
    t.is(b.stdout.trim(), rootId, 'same image id as root with overlayfs');
    const info = await user.tsbuild(['info'], { env });
    t.is(info.code, 0, info.stderr);
    t.regex(info.stdout, new RegExp(`^Snapshotter: +${name} \\(`, 'm'));
    if (name !== 'overlayfs') t.regex(info.stdout, /forced by TSBUILD_SNAPSHOTTER/);
    // Nothing of the views is left behind: no FUSE server, no copies.
    // (ps exits 1 when the user has no process left at all)
    const left = spawnSync('ps', ['-u', user.name, '-o', 'comm=']).stdout.toString();
    t.notRegex(left, /fuse-overlayfs/);
  });
}

const rootCases: [string, string | undefined][] = [['fuse-overlayfs', existsSync('/usr/bin/fuse-overlayfs') ? undefined : 'needs fuse-overlayfs'], ['native-copy', undefined]];
for (const [name, why] of rootCases) {
  const reason = skip ?? why;
  const it = reason ? test.skip : test.serial;
  it(`root ${name}${reason ? ` (skipped: ${reason})` : ''}: the image equals the overlayfs one`, async (t) => {
    const store = await tempDir('tsbuild-snapshotters-root-');
    await loadBusyboxImage('busybox:latest', store);
    const b = await tsbuild(['build', '-q', ctx], { root: store, env: { ...EPOCH, TSBUILD_SNAPSHOTTER: name } });
    t.is(b.code, 0, b.stderr);
    t.is(b.stdout.trim(), rootId);
  });
}

(skip ? test.skip : test.serial)('an unknown TSBUILD_SNAPSHOTTER is one line, exit 1', async (t) => {
  const r = await user.tsbuild(['build', '-q', ctx], { env: { TSBUILD_SNAPSHOTTER: 'zfs' } });
  t.is(r.code, 1);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, /TSBUILD_SNAPSHOTTER=zfs: unknown snapshotter \(use overlayfs, fuse-overlayfs, native-copy or auto\)/);
});

(skip ? test.skip : test.serial)('rootless native-copy containers: each has its own copy of the image; cp reads a stopped one', async (t) => {
  const env = { TSBUILD_SNAPSHOTTER: 'native-copy' };
  const name = `copied${process.pid}`;
  const r = await user.tsbuild(['run', '--name', name, 'busybox', 'sh', '-c', 'echo kept > /data && rm /bin/ls && id -u'], { env });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '0\n');
  try {
    const dest = path.join(user.home, 'got');
    const cp = await user.tsbuild(['cp', `${name}:/data`, dest], { env });
    t.is(cp.code, 0, cp.stderr);
    t.is(readFileSync(dest, 'utf8'), 'kept\n');
    const fresh = await user.tsbuild(['run', '--rm', 'busybox', 'sh', '-c', 'test ! -e /data && test -e /bin/ls && echo pristine'], { env });
    t.is(fresh.code, 0, fresh.stderr);
    t.is(fresh.stdout, 'pristine\n');
  } finally {
    t.is((await user.tsbuild(['rm', name], { env })).code, 0);
  }
});

// A sandbox made while another build's FUSE view is mounted holds a copy
// of that mount (its mount namespace is a copy of ours), which keeps the
// FUSE server alive after the other build unmounts the view: that build
// still ends normally, with its image id, without waiting for the sandbox.
{
  const reason = skip ?? rootCases[0]![1];
  (reason ? test.skip : test.serial)(`root fuse-overlayfs${reason ? ` (skipped: ${reason})` : ''}: a view still held by another build's sandbox is released; the build ends with its id`, async (t) => {
    const store = await tempDir('tsbuild-snapshotters-par-');
    await loadBusyboxImage('busybox:latest', store);
    const dir = await tempDir('tsbuild-snapshotters-parctx-');
    await mkdir(path.join(dir, 'first'));
    await mkdir(path.join(dir, 'second'));
    await writeFile(path.join(dir, 'first/Dockerfile'), 'FROM busybox\nRUN echo first-started && sleep 2\n');
    await writeFile(path.join(dir, 'second/Dockerfile'), 'FROM busybox\nRUN echo second-started && sleep 6\n');
    const env = { ...process.env, TSBUILD_ROOT: store, TSBUILD_SNAPSHOTTER: 'fuse-overlayfs', CI: 'true' };
    const start = (name: string) => {
      const child = spawn(process.execPath, [TSBUILD_BIN, 'build', '--progress=plain', '--iidfile', path.join(dir, `${name}.iid`), path.join(dir, name)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const started = new Promise<void>((resolve) => {
        const seen = (chunk: Buffer) => { output += chunk.toString(); if (output.includes(`${name}-started`)) resolve(); };
        child.stdout.on('data', seen);
        child.stderr.on('data', seen);
      });
      const code = new Promise<number | null>((resolve) => child.once('close', resolve));
      return { started, code, output: () => output };
    };
    const first = start('first');
    await first.started;
    const second = start('second');
    await second.started;
    t.is(await first.code, 0, first.output());
    t.regex(readFileSync(path.join(dir, 'first.iid'), 'utf8'), /^sha256:[0-9a-f]{64}$/);
    t.is(await second.code, 0, second.output());
  });
}

// kill -9 of tsbuild in the middle of a RUN: the FUSE server dies with it
// (parent death signal), and the next build removes the dead view (a
// disconnected FUSE mount, or a copy) from the store's mounts.
for (const [name, why] of rootCases) {
  const reason = skip ?? why;
  const it = reason ? test.skip : test.serial;
  it(`root ${name}${reason ? ` (skipped: ${reason})` : ''}: kill -9 mid-RUN leaves no server, mount or copy behind after the next build`, async (t) => {
    const store = await tempDir('tsbuild-snapshotters-kill-');
    await loadBusyboxImage('busybox:latest', store);
    const killCtx = await tempDir('tsbuild-snapshotters-killctx-');
    await writeFile(path.join(killCtx, 'Dockerfile'), 'FROM busybox\nRUN echo step-started && sleep 30\n');
    const env = { ...process.env, TSBUILD_ROOT: store, TSBUILD_SNAPSHOTTER: name, CI: 'true' };
    const child = spawn(process.execPath, [TSBUILD_BIN, 'build', '--progress=plain', killCtx], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the RUN did not start: ${output}`)), 30_000);
      const seen = (chunk: Buffer) => { output += chunk.toString(); if (output.includes('step-started')) { clearTimeout(timer); resolve(); } };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    const servers = async () => (await readdir('/proc')).filter((p) => /^\d+$/.test(p))
      .filter((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(store); } catch { return false; } })
      .filter((p) => { try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, 'utf8')); } catch { return false; } });
    for (let i = 0; i < 50 && (await servers()).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    t.deepEqual(await servers(), [], 'no process of the killed build serves its store');
    const next = await tsbuild(['build', '-q', ctx], { root: store, env: { TSBUILD_SNAPSHOTTER: name } });
    t.is(next.code, 0, next.stderr);
    t.deepEqual(await readdir(path.join(store, 'mounts')).catch(() => []), []);
    t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(store), 'no mount under the store');
  });
}
