// Rootless mode end to end, as a real unprivileged user the test creates
// (with a subordinate id range it adds and removes): store commands in the
// user's XDG data dir, a build with COPY (--chown), RUN as root and as a
// USER, a cache mount and a secret, whose image is byte for byte the one
// root builds; and the one-line errors for missing prerequisites.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { busyboxAvailable } from '../fixtures/base-images/busybox-rootfs.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { tempDir, tsbuild } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { createTestUser, rootlessSkipReason, type TestUser } from './helpers/unprivileged-user.js';
import { layerEntries, readOciTar, type TarEntry } from './e2e-image-helpers.js';

const skip = rootlessSkipReason() ?? (busyboxAvailable() ? undefined : 'needs /bin/busybox (Debian package busybox-static)');
const it = skip ? test.skip : test.serial;
if (skip) test.skip(`rootless e2e (skipped: ${skip})`, () => {});

const DOCKERFILE = `FROM busybox
COPY hello.txt /hello.txt
COPY --chown=1234:1234 hello.txt /owned/hello.txt
RUN echo root > /by-root && echo "builder:x:2000:2000::/work:/bin/sh" >> /etc/passwd && echo "builder:x:2000:" >> /etc/group && mkdir /work && chown builder /work
RUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /from-cache
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secret-len
USER builder
RUN echo builder > /work/by-app && id -u > /work/uid
USER root
RUN rm /by-root && rm -rf /owned && mkdir /owned && echo new > /owned/n
`;
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };
const SECRET = 'rootless-s3cret';

let user: TestUser;
let work: string;
let ctx: string;

test.before(async () => {
  if (skip) return;
  user = await createTestUser();
  work = await tempDir('tsbuild-rootless-');
  await chmod(work, 0o755);
  ctx = path.join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(ctx, 'hello.txt'), 'hello\n');
  await writeFile(path.join(work, 'tok'), SECRET, { mode: 0o644 });
  await mkdir(path.join(work, 'out'));
  execFileSync('chown', [user.name, path.join(work, 'out')]);
  await user.loadBusybox();
});

test.after.always(() => { user?.remove(); });

function files(layers: TarEntry[][]): Map<string, TarEntry> {
  const all = new Map<string, TarEntry>();
  for (const layer of layers) for (const e of layer) all.set(e.name.replace(/\/$/, ''), e);
  return all;
}

it('store commands run as the user, in $XDG_DATA_HOME/tsbuild or ~/.local/share/tsbuild', async (t) => {
  const images = await user.tsbuild(['images']);
  t.is(images.code, 0, images.stderr);
  t.regex(images.stdout, /^busybox\s+latest/m);
  const du = await user.tsbuild(['du']);
  t.is(du.code, 0, du.stderr);
  const inspect = await user.tsbuild(['inspect', 'busybox']);
  t.is(inspect.code, 0, inspect.stderr);
  t.is(JSON.parse(inspect.stdout)[0].RepoTags[0], 'busybox:latest');

  const xdg = path.join(user.home, 'xdg');
  const fresh = await user.tsbuild(['images'], { env: { XDG_DATA_HOME: xdg } });
  t.is(fresh.code, 0, fresh.stderr);
  t.notRegex(fresh.stdout, /busybox/);
  t.is(execFileSync('stat', ['-c', '%U', path.join(xdg, 'tsbuild')]).toString().trim(), user.name);
});

it('a missing home directory is named in a one-line error, no stack trace', async (t) => {
  const r = await user.tsbuild(['images'], { env: { HOME: '/nonexistent-home/x' } });
  t.is(r.code, 1);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, /\/nonexistent-home/);
  t.regex(r.stderr, /XDG_DATA_HOME|TSBUILD_ROOT/);
  t.notRegex(r.stderr, /internal error|    at /);
});

it('build: COPY --chown, RUN as root and as a USER, a cache mount and a secret; the image equals the one root builds', async (t) => {
  const secret = `id=tok,src=${path.join(work, 'tok')}`;
  const out = path.join(work, 'out/rootless.oci.tar');
  const b = await user.tsbuild(['build', '-q', '--secret', secret, '-t', 'rl:v1', ctx], { env: EPOCH });
  t.is(b.code, 0, b.stderr);
  const s = await user.tsbuild(['save', '--format', 'oci', '-o', out, 'rl:v1'], {});
  t.is(s.code, 0, s.stderr);
  const img = await readOciTar(out);
  const fs = files(await layerEntries(img));
  t.is(fs.get('hello.txt')?.uid, 0);
  t.is(fs.get('by-root')?.uid, 0);
  t.is(fs.get('owned/hello.txt')?.uid, 1234);
  t.is(fs.get('owned/hello.txt')?.gid, 1234);
  t.is(fs.get('work/by-app')?.uid, 2000);
  t.is(fs.get('work/uid')?.data.toString().trim(), '2000');
  t.is(fs.get('from-cache')?.data.toString(), 'cached\n');
  t.is(fs.get('secret-len')?.data.toString().trim(), String(SECRET.length));
  for (const layer of img.layers) t.false(layer.includes(SECRET), 'the secret never reaches a layer');
  // A deleted file and a replaced directory: whiteouts from overlay's user.overlay.* marks.
  const last = (await layerEntries(img)).at(-1)!.map((e) => e.name);
  t.true(last.includes('.wh.by-root'), last.join(' '));
  t.true(last.includes('owned/.wh..wh..opq'), last.join(' '));

  // The same build as root, in a store of its own.
  const rootStore = await tempDir('tsbuild-rootless-root-');
  await loadBusyboxImage('busybox:latest', rootStore);
  const rb = await tsbuild(['build', '-q', '--secret', secret, '-t', 'rl:v1', ctx], { root: rootStore, env: EPOCH });
  t.is(rb.code, 0, rb.stderr);
  t.is(b.stdout.trim(), rb.stdout.trim(), 'same image id rootless and as root');
  const rootOut = path.join(work, 'root.oci.tar');
  await tsbuild(['save', '--format', 'oci', '-o', rootOut, 'rl:v1'], { root: rootStore });
  const rootImg = await readOciTar(rootOut);
  t.deepEqual(img.manifest.layers.map((l) => l.digest), rootImg.manifest.layers.map((l) => l.digest));
  t.is(img.configDigest, rootImg.configDigest);
});

it('no subordinate id range: one line with the usermod command', async (t) => {
  user.dropSubordinateIds();
  try {
    const r = await user.tsbuild(['build', '-q', ctx], { env: EPOCH });
    t.is(r.code, 1);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`usermod --add-subuids \\d+-\\d+ --add-subgids \\d+-\\d+ ${user.name}`));
    const run = await user.tsbuild(['run', '--rm', 'busybox', 'true']);
    t.is(run.code, 125);
    t.regex(run.stderr, /usermod --add-subuids/);
    // Store reads need no namespace.
    t.is((await user.tsbuild(['images'])).code, 0);
  } finally {
    user.addSubordinateIds();
  }
});

it('a store the user may not write (root\'s) is one line, no stack trace', async (t) => {
  const rootStore = await tempDir('tsbuild-rootless-rootstore-');
  const r = await user.tsbuild(['build', '-q', ctx], { env: { TSBUILD_ROOT: rootStore } });
  t.is(r.code, 1);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`^ERROR: the store ${rootStore} is not writable by user ${user.name}`));
});

it('newuidmap missing: one line naming the package to install', async (t) => {
  const r = await user.tsbuild(['build', '-q', ctx], { env: { ...EPOCH, PATH: '/nonexistent-bin' } });
  t.is(r.code, 1);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, /newuidmap is missing: install it with `sudo apt-get install uidmap`/);
});

async function fetchText(url: string): Promise<string> {
  let last: unknown;
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      return await (await fetch(url)).text();
    } catch (err) {
      last = err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw last;
}

it('run -d -p HOSTPORT:80 rootless serves on the host port; stop and rm', async (t) => {
  const port = await freePort();
  const serve = 'mkdir -p /www && echo hello-rootless > /www/index.html && id -u > /www/uid && httpd -f -p 80 -h /www';
  const r = await user.tsbuild(['run', '-d', '-p', `${port}:80`, 'busybox', 'sh', '-c', serve]);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    t.is(await fetchText(`http://127.0.0.1:${port}/`), 'hello-rootless\n');
    t.is(await fetchText(`http://127.0.0.1:${port}/uid`), '0\n', 'container root');
    const ps = await user.tsbuild(['ps']);
    t.regex(ps.stdout, new RegExp(`0\\.0\\.0\\.0:${port}->80/tcp`));
  } finally {
    t.is((await user.tsbuild(['stop', '-t', '1', id])).code, 0);
    t.is((await user.tsbuild(['rm', id])).code, 0);
  }
  t.is((await user.tsbuild(['ps', '-a'])).stdout.includes(id.slice(0, 12)), false);
  const low = await user.tsbuild(['run', '--rm', '-p', '81:80', 'busybox', 'true']);
  t.is(low.code, 125);
  t.regex(low.stderr, /^ERROR: cannot publish port 0\.0\.0\.0:81: .*rootless: publish a host port above 1023/m);
});

it('run rootless: limits asked for are a one-line warning, never a failure; none asked, no warning', async (t) => {
  const limited = await user.tsbuild(['run', '--rm', '--memory', '64m', '--pids-limit', '50', 'busybox', 'echo', 'ran']);
  t.is(limited.code, 0, limited.stderr);
  t.is(limited.stdout, 'ran\n');
  t.regex(limited.stderr, /^WARNING: rootless mode: --memory, --cpus and --pids-limit are not enforced/m);
  const plain = await user.tsbuild(['run', '--rm', 'busybox', 'echo', 'ran']);
  t.is(plain.code, 0, plain.stderr);
  t.notRegex(plain.stderr, /WARNING/);
});

it('info says rootless, the id mapping and the snapshotter in use', async (t) => {
  const r = await user.tsbuild(['info']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^Store: +${user.home}/\\.local/share/tsbuild$`, 'm'));
  t.regex(r.stdout, new RegExp(`^Rootless: +yes, in a user namespace \\(ids 0→${user.uid}, 1-65535→\\d+-\\d+\\)$`, 'm'));
  t.regex(r.stdout, /^Snapshotter: +overlayfs \(native, in the user namespace/m);
});

it('a base image with a device node builds rootless: the node is skipped on disk, kept in the layer', async (t) => {
  const rootfs = path.join(work, 'devfs');
  await mkdir(path.join(rootfs, 'dev'), { recursive: true });
  execFileSync('mknod', [path.join(rootfs, 'dev/null'), 'c', '1', '3']);
  await writeFile(path.join(rootfs, 'hello'), 'hi\n');
  const tarFile = path.join(work, 'devfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tarFile, '.']);
  await chmod(tarFile, 0o644);
  t.is((await user.tsbuild(['import', tarFile, 'devimg:v1'])).code, 0);
  const devCtx = path.join(work, 'devctx');
  await mkdir(devCtx);
  await writeFile(path.join(devCtx, 'Dockerfile'), 'FROM devimg:v1\nCOPY x /x\n');
  await writeFile(path.join(devCtx, 'x'), 'x\n');
  const b = await user.tsbuild(['build', '-q', '-t', 'dev:v1', devCtx]);
  t.is(b.code, 0, b.stderr);
  const out = path.join(work, 'out/dev.oci.tar');
  t.is((await user.tsbuild(['save', '--format', 'oci', '-o', out, 'dev:v1'])).code, 0);
  const [base, copied] = await layerEntries(await readOciTar(out));
  t.is(base!.find((e) => e.name === 'dev/null')?.type, 'character-device');
  t.deepEqual(copied!.map((e) => e.name).filter((n) => !n.endsWith('/')), ['x']);
});

it('exec into a rootless container joins its namespaces: id, another user, a file the container sees', async (t) => {
  const watch = 'until [ -e /tmp/from-exec ]; do sleep 0.1; done; echo container-saw $(cat /tmp/from-exec); sleep 300';
  const r = await user.tsbuild(['run', '-d', 'busybox', 'sh', '-c', watch]);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    const uid = await user.tsbuild(['exec', id, 'id', '-u']);
    t.is(uid.code, 0, uid.stderr);
    t.is(uid.stdout, '0\n');
    const other = await user.tsbuild(['exec', '-u', '1000:1000', id, 'id', '-u']);
    t.is(other.code, 0, other.stderr);
    t.is(other.stdout, '1000\n');
    // the same PID namespace: the container's shell is there
    const ps = await user.tsbuild(['exec', id, 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']);
    t.regex(ps.stdout, /until \[ -e \/tmp\/from-exec \]/);
    const write = await user.tsbuild(['exec', id, 'sh', '-c', 'echo hi-from-exec > /tmp/from-exec']);
    t.is(write.code, 0, write.stderr);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('container-saw'); i++) {
      logs = (await user.tsbuild(['logs', id])).stdout;
      if (!logs.includes('container-saw')) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    t.regex(logs, /^container-saw hi-from-exec$/m);
    const missing = await user.tsbuild(['exec', id, '/no/such/program']);
    t.is(missing.code, 127);
  } finally {
    await user.tsbuild(['rm', '-f', id]);
  }
});
