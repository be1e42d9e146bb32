// End to end: the confinement of `tsbuild run`: Docker's device rules (a
// device node shipped in an image too), the seccomp profile and
// --security-opt, and -v below an image's dangling symlink. Images are built
// with the real CLI into the test's store; probes print what the kernel
// answered (see e2e-step-run-confinement.test.ts for RUN).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultSeccompProfile } from '../runner-native/seccomp.js';
import { tsbuild } from './helpers/cli.js';
import { confinementSuite, DEVICE_PROBE, probeResults, REFUSED_BY_DEFAULT, SECCOMP_PROBES } from './helpers/confinement-probe.js';
import { build } from './e2e-image-helpers.js';

const { suite, it, contextWithProbe } = confinementSuite('container confinement');
const { scratchDir } = suite;

let imagesBuilt: Promise<void> | undefined;
function probeImages(): Promise<void> {
  imagesBuilt ??= (async () => {
    const ctx = await contextWithProbe();
    await build(suite.store.root, ctx, 'FROM busybox:latest\nCOPY probe /probe\n', ['-t', 'probe:test']);
    await build(suite.store.root, ctx, 'FROM busybox:latest\nRUN ln -s /abs/path /data\n', ['-t', 'dangling:test']);
    // mknod is allowed (as in Docker), so a layer can carry a device node
    await build(suite.store.root, ctx, 'FROM busybox:latest\nRUN mknod /loop-control c 10 237\n', ['-t', 'device:test']);
  })();
  return imagesBuilt;
}
const run = (args: string[]) => tsbuild(['run', '--rm', '--network', 'none', ...args], { root: suite.store.root });

it('run: device probes as in RUN', async (t) => {
  await probeImages();
  const r = await run(['busybox:latest', 'sh', '-c', DEVICE_PROBE]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /can't create \/dev\/km: Operation not permitted\nkm-refused/);
  t.regex(r.stdout, /standard-ok/);
});

it('run: a device node shipped in the image is not usable', async (t) => {
  await probeImages();
  const r = await run(['device:test', 'sh', '-c', 'ls -l /loop-control; (exec 3<> /loop-control) 2>&1 || echo refused']);
  t.regex(r.stdout, /^c.* 10, *237 /m, 'the layer kept the node');
  t.regex(r.stdout, /loop-control: Operation not permitted\nrefused/);
});

it('run: the default profile, a custom profile without mkdir, unconfined, no-new-privileges', async (t) => {
  await probeImages();
  const confined = await run(['probe:test', '/probe', ...SECCOMP_PROBES.split(' ')]);
  t.is(confined.code, 0, confined.stderr);
  t.deepEqual(probeResults(confined.stdout), REFUSED_BY_DEFAULT);

  const profile = structuredClone(defaultSeccompProfile());
  for (const s of profile.syscalls ?? []) s.names = s.names.filter((n) => n !== 'mkdir' && n !== 'mkdirat');
  const file = path.join(await scratchDir('profile'), 'no-mkdir.json');
  await writeFile(file, JSON.stringify(profile));
  const custom = await run(['--security-opt', `seccomp=${file}`, 'probe:test', 'sh', '-c', '/probe mkdir; mkdir /tmp/x 2>&1; true']);
  t.is(probeResults(custom.stdout).mkdir, 'EPERM');
  t.regex(custom.stdout, /mkdir.*Operation not permitted/);

  const free = await run(['--security-opt', 'seccomp=unconfined', 'probe:test', '/probe', 'add_key', 'mkdir']);
  t.deepEqual(probeResults(free.stdout), { add_key: 'ok', mkdir: 'ok' });

  const nnp = await run(['--security-opt', 'no-new-privileges', 'busybox:latest', 'grep', 'NoNewPrivs', '/proc/self/status']);
  t.regex(nnp.stdout, /NoNewPrivs:\s+1/);
});

it('run: a bad --security-opt or seccomp profile is one line and exit 125', async (t) => {
  await probeImages();
  const dir = await scratchDir('bad-profile');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'bad.json'), '{"defaultAction": "SCMP_ACT_MAYBE"}');
  for (const [opt, message] of [
    [`seccomp=${path.join(dir, 'bad.json')}`, /defaultAction: unsupported action "SCMP_ACT_MAYBE"/],
    [`seccomp=${path.join(dir, 'missing.json')}`, /opening seccomp profile .* failed/],
    ['apparmor=foo', /invalid --security-opt "apparmor=foo"/],
  ] as const) {
    const r = await run(['--security-opt', opt, 'busybox:latest', 'true']);
    t.is(r.code, 125, opt);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

it('run -v below an image symlink whose target is missing mounts where the link points', async (t) => {
  await probeImages();
  const host = await scratchDir('volume');
  await writeFile(path.join(host, 'file'), 'from the host\n');
  const r = await run(['-v', `${host}:/data/sub`, 'dangling:test', 'sh', '-c', 'cat /data/sub/file /abs/path/sub/file']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'from the host\nfrom the host\n');
});
