// `tsbuild --host X build` with the flags a local build has beyond the
// basics: --annotation, --provenance, --build-context, --network and the
// RUN resource flags reach the build on a real server (unix socket), as the
// image and the streamed-back outputs show; what the server cannot honour
// (an SSH git URL, the host's network it did not allow) is
// refused with one line before any work.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { chmod, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { needsRoot, runIf } from './helpers/skip.js';
import { sshAddBundle, sshAddSkipReason } from './helpers/ssh-add-bundle.js';
import { serverSuite } from './helpers/server-suite.js';
import { startServe } from './helpers/serve.js';
import { gitSkipReason, makeRepo, startGitServer } from './helpers/git-server.js';
import { freshStore, tempDir, tsbuild } from './helpers/cli.js';
import { makeContext, readTar, scratch } from './e2e-image-helpers.js';

const suite = serverSuite('remote builds with every build flag');
const { it } = suite;

function layoutOf(entries: Awaited<ReturnType<typeof readTar>>) {
  const files = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.name, e.data]));
  const blob = (d: string) => JSON.parse(files.get(`blobs/${d.replace(':', '/')}`)!.toString());
  return { index: JSON.parse(files.get('index.json')!.toString()), blob };
}

it('--annotation and --provenance reach a streamed-back type=oci output', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo annotated > /a\n' });
  const out = path.join(await scratch(), 'img.tar');
  const r = await suite.remote(['build', '--progress=plain', '--annotation', 'org.opencontainers.image.title=remote-flags', '--annotation', 'manifest:com.example.k=v',
    '--provenance=mode=min', '-t', 'flags:oci', '-o', `type=oci,dest=${out}`, ctx]);
  t.is(r.code, 0, r.stderr);
  const { index, blob } = layoutOf(await readTar(await readFile(out)));
  const top = blob(index.manifests[0].digest);
  t.is(top.manifests.length, 2, 'an index of the image and its attestation');
  const [image, att] = top.manifests;
  const manifest = blob(image.digest);
  t.is(manifest.annotations['org.opencontainers.image.title'], 'remote-flags');
  t.is(manifest.annotations['com.example.k'], 'v');
  t.is(att.annotations['vnd.docker.reference.type'], 'attestation-manifest');
  t.is(att.annotations['vnd.docker.reference.digest'], image.digest);
  const statement = blob(blob(att.digest).layers[0].digest);
  t.is(statement.predicateType, 'https://slsa.dev/provenance/v0.2');
  t.deepEqual(statement.subject[0].digest, { sha256: image.digest.slice('sha256:'.length) });
});

it('--build-context docker-image:// and target: are resolved on the server', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM scratch AS notes\nCOPY note.txt /note.txt\nFROM scratch\nCOPY --from=tools /bin/busybox /bb\nCOPY --from=extra /note.txt /note.txt\n', 'note.txt': 'from a stage\n' });
  const out = path.join(await scratch(), 'rootfs');
  const r = await suite.remote(['build', '--progress=plain', '--build-context', 'tools=docker-image://busybox:latest', '--build-context', 'extra=target:notes', '-o', `type=local,dest=${out}`, ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(await readFile(path.join(out, 'note.txt'), 'utf8'), 'from a stage\n');
  const bb = await readFile(path.join(out, 'bb'));
  t.is(bb.subarray(1, 4).toString(), 'ELF', 'busybox came out of the docker-image:// context');
});

it('--network=none, --shm-size, --add-host and --ulimit reach every RUN', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN ls /sys/class/net > /ifaces; df -k /dev/shm | tail -1 > /shm; cat /etc/hosts > /hosts; ulimit -n > /nofile\n' });
  const out = path.join(await scratch(), 'rootfs');
  const r = await suite.remote(['build', '--progress=plain', '--network=none', '--shm-size', '128m', '--add-host', 'db.internal:10.1.2.3', '--ulimit', 'nofile=1000:2000', '-o', `type=local,dest=${out}`, ctx]);
  t.is(r.code, 0, r.stderr);
  const cat = (f: string) => readFile(path.join(out, f), 'utf8');
  t.is(await cat('ifaces'), 'lo\n');
  t.regex(await cat('shm'), /\s131072\s/);
  t.regex(await cat('hosts'), /^10\.1\.2\.3\tdb\.internal$/m);
  t.is(await cat('nofile'), '1000\n');
});

runIf(needsRoot('a cgroup parent needs root'), it)('--cgroup-parent puts every RUN of a remote build under that parent on the server', async (t) => {
  const parent = `tsbuild-remote-parent-${process.pid}`;
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN cat /proc/self/cgroup > /cg\n' });
  const out = path.join(await scratch(), 'rootfs');
  try {
    const r = await suite.remote(['build', '--progress=plain', '--cgroup-parent', parent, '-o', `type=local,dest=${out}`, ctx]);
    t.is(r.code, 0, r.stderr);
  } finally {
    // The parent cgroup is the caller's to keep, as with docker; the test removes its own.
    for (const dir of [`/sys/fs/cgroup/${parent}`, ...['cpu', 'memory', 'pids', 'devices', 'freezer', 'blkio', 'cpuset', 'cpuacct', 'systemd', 'unified'].map((c) => `/sys/fs/cgroup/${c}/${parent}`)]) {
      await rmdir(dir).catch(() => undefined);
    }
  }
  t.regex(await readFile(path.join(out, 'cg'), 'utf8'), new RegExp(`/${parent}/tsbuild-run-[0-9a-f]+$`, 'm'));
});

it('TSBUILD_OFFLINE=1 on the client keeps the server from asking any registry', async (t) => {
  let connections = 0;
  const registry = net.createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
  const port = (registry.address() as net.AddressInfo).port;
  try {
    const ctx = await makeContext({ Dockerfile: `FROM 127.0.0.1:${port}/base:v1\nRUN true\n` });
    const offline = await tsbuild(['--host', suite.host, 'build', '--progress=plain', ctx], { root: await tempDir('tsbuild-client-'), env: { TSBUILD_OFFLINE: '1' } });
    t.is(offline.code, 1, offline.stderr);
    t.regex(offline.stderr, /base:v1: not in the local store, and TSBUILD_OFFLINE is set/);
    t.is(connections, 0, 'nothing asked the registry');
    const online = await suite.remote(['build', '--progress=plain', ctx]);
    t.is(online.code, 1);
    t.true(connections > 0, 'without it, the server does ask');
  } finally {
    registry.close();
  }
});

it('a local directory as --build-context is synced from the client, with its own .dockerignore, as a local build reads it', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY --from=dir f /f\nCOPY --from=dir . /all/\n' });
  const dir = await makeContext({ f: 'v1\n', 'sub/g': 'g\n', 'secret.txt': 'not for the image\n', '.dockerignore': 'secret.txt\n' });
  const listing = async (root: string) => (await readdir(root, { recursive: true })).sort();
  const remoteOut = path.join(await scratch(), 'remote');
  const r = await suite.remote(['build', '--progress=plain', '--build-context', `dir=${dir}`, '-o', `type=local,dest=${remoteOut}`, ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(await readFile(path.join(remoteOut, 'f'), 'utf8'), 'v1\n');
  const localOut = path.join(await scratch(), 'local');
  const local = await tsbuild(['build', '--progress=plain', '--build-context', `dir=${dir}`, '-o', `type=local,dest=${localOut}`, ctx], { root: await tempDir('tsbuild-local-') });
  t.is(local.code, 0, local.stderr);
  t.deepEqual(await listing(remoteOut), await listing(localOut));
  t.false((await listing(remoteOut)).includes('all/secret.txt'), 'the directory\'s .dockerignore applies');

  // A change in the directory reaches the next build.
  await writeFile(path.join(dir, 'f'), 'v2\n');
  const again = path.join(await scratch(), 'again');
  const r2 = await suite.remote(['build', '--progress=plain', '--build-context', `dir=${dir}`, '-o', `type=local,dest=${again}`, ctx]);
  t.is(r2.code, 0, r2.stderr);
  t.is(await readFile(path.join(again, 'f'), 'utf8'), 'v2\n');

  const missing = await suite.remote(['build', '--build-context', `dir=${dir}/nope`, ctx]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /invalid --build-context dir=.*\/nope: not a directory/);
});

it('the server builds exactly the files the client sent: a <Dockerfile>.dockerignore wins over .dockerignore, as locally', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY . /all/\n', '.dockerignore': 'foo.txt\n', 'Dockerfile.dockerignore': 'bar.txt\n', 'foo.txt': 'foo\n', 'bar.txt': 'bar\n' });
  const listing = async (root: string) => (await readdir(root, { recursive: true })).sort();
  const remoteOut = path.join(await scratch(), 'remote');
  const r = await suite.remote(['build', '--progress=plain', '-o', `type=local,dest=${remoteOut}`, ctx]);
  t.is(r.code, 0, r.stderr);
  const localOut = path.join(await scratch(), 'local');
  const local = await tsbuild(['build', '--progress=plain', '-o', `type=local,dest=${localOut}`, ctx], { root: await tempDir('tsbuild-local-') });
  t.is(local.code, 0, local.stderr);
  t.deepEqual(await listing(remoteOut), await listing(localOut));
  t.true((await listing(remoteOut)).includes('all/foo.txt'), 'only Dockerfile.dockerignore applies');
  t.false((await listing(remoteOut)).includes('all/bar.txt'));
});

it('an oci-layout:// --build-context on the client is sent and loaded on the server, by tag or digest', async (t) => {
  const layout = await scratch();
  const base = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo from-layout > /origin\n' });
  const made = await suite.remote(['build', '--progress=plain', '-o', `type=oci,tar=false,dest=${layout}/img,name=laid:v1`, base]);
  t.is(made.code, 0, made.stderr);
  const index = JSON.parse(await readFile(path.join(layout, 'img/index.json'), 'utf8'));
  const use = await makeContext({ Dockerfile: 'FROM laid\nRUN cat /origin > /copied\n' });
  for (const value of [`oci-layout://${layout}/img`, `oci-layout://${layout}/img@v1`, `oci-layout://${layout}/img@${index.manifests[0].digest}`]) {
    const out = path.join(await scratch(), 'rootfs');
    const r = await suite.remote(['build', '--progress=plain', '--build-context', `laid=${value}`, '-o', `type=local,dest=${out}`, use]);
    t.is(r.code, 0, r.stderr);
    t.is(await readFile(path.join(out, 'copied'), 'utf8'), 'from-layout\n', value);
  }
  // The same errors as a local build, from the client, before any work.
  const before = await readdir(path.join(suite.store.root)).catch(() => []);
  const missing = await suite.remote(['build', '--progress=plain', '--build-context', `laid=oci-layout://${layout}/nope`, use]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /invalid --build-context oci-layout:\/\/.*\/nope: .* is not an OCI layout \(ENOENT reading index.json\)/);
  t.deepEqual(await readdir(path.join(suite.store.root)).catch(() => []), before);
  const noTag = await suite.remote(['build', '--progress=plain', '--build-context', `laid=oci-layout://${layout}/img@v2`, use]);
  t.is(noTag.code, 1);
  t.regex(noTag.stderr, /no image v2 in .*index.json/);
});

it('an ssh git --build-context is refused in one line before any work', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY --from=src f /f\n' });
  const before = await readdir(path.join(suite.store.root)).catch(() => []);
  const ssh = await suite.remote(['build', '--progress=plain', '--build-context', 'src=git@example.com:a/b.git', ctx]);
  t.is(ssh.code, 1);
  t.is(ssh.stderr.trim().split('\n').length, 1, ssh.stderr);
  t.regex(ssh.stderr, /a git URL over SSH is not supported with --host yet/);
  t.notRegex(ssh.stderr, /load build context/, 'refused before the context was synced');
  t.deepEqual(await readdir(path.join(suite.store.root)).catch(() => []), before);
});

it('the host network is refused by a server not started with --allow-insecure-entitlement network.host', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN true\n' });
  const r = await suite.remote(['build', '--network=host', '--allow', 'network.host', ctx]);
  t.is(r.code, 1);
  // The server's policy is known only once the request arrives: the context line may precede the error.
  t.deepEqual(r.stderr.split('\n').filter((l) => l.includes('ERROR')), ['ERROR: network.host is not allowed by this server (start it with --allow-insecure-entitlement network.host)'], r.stderr);
});

it('--allow-insecure-entitlement names what it allows, as buildkitd\'s does', async (t) => {
  const store = await freshStore();
  t.teardown(() => store.dispose());
  const sock = path.join(await tempDir('tsbuild-sock-'), 'tsbuild.sock');
  const server = await startServe(store.root, ['--addr', `unix://${sock}`, '--allow-insecure-entitlement', 'network.host']);
  t.teardown(() => server.stop());
  const remote = async (args: string[]) => tsbuild(['--host', `unix://${sock}`, ...args], { root: await tempDir('tsbuild-client-') });
  const hostIfaces = (await readdir('/sys/class/net')).sort();

  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN ls /sys/class/net > /ifaces\n' });
  const out = path.join(await scratch(), 'rootfs');
  const allowed = await remote(['build', '--progress=plain', '--network=host', '--allow', 'network.host', '-o', `type=local,dest=${out}`, ctx]);
  t.is(allowed.code, 0, allowed.stderr);
  t.deepEqual((await readFile(path.join(out, 'ifaces'), 'utf8')).trim().split('\n').sort(), hostIfaces, "the RUN saw the host's interfaces");

  // Allowing network.host allows nothing else.
  const insecure = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN --security=insecure true\n' });
  const refused = await remote(['build', '--allow', 'security.insecure', insecure]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /ERROR: security\.insecure is not allowed by this server \(start it with --allow-insecure-entitlement security\.insecure\)/);

  const bogus = await tsbuild(['serve', '--addr', `unix://${sock}.2`, '--allow-insecure-entitlement', 'network.hots'], { root: store.root });
  t.not(bogus.code, 0);
  t.regex(bogus.stderr, /invalid --allow-insecure-entitlement "network\.hots": expected one of network\.host, security\.insecure/);
});

const gitSkip = gitSkipReason();
(gitSkip ? test.skip : it)(`a git repository as --build-context, and as the build context itself, is fetched by the server, a Dockerfile on stdin is sent${gitSkip ? ` (skipped: ${gitSkip})` : ''}`, async (t) => {
  const git = await startGitServer();
  t.teardown(() => git.stop());
  await makeRepo(git, 'lib', [{ files: { 'lib.txt': 'from git, v1\n' } }, { files: { 'lib.txt': 'from git, v2\n' }, tag: 'v2' }]);
  await makeRepo(git, 'app', [{ files: { Dockerfile: 'FROM scratch\nCOPY --from=lib lib.txt /lib.txt\nCOPY app.txt /app.txt\n', 'app.txt': 'the app\n' } }]);
  const out = path.join(await scratch(), 'rootfs');
  const r = await suite.remote(['build', '--progress=plain', '--build-context', `lib=${git.url}/lib.git#v2`, '-o', `type=local,dest=${out}`, `${git.url}/app.git#main`]);
  t.is(r.code, 0, r.stderr);
  t.is(await readFile(path.join(out, 'lib.txt'), 'utf8'), 'from git, v2\n');
  t.is(await readFile(path.join(out, 'app.txt'), 'utf8'), 'the app\n');

  // A lone Dockerfile on stdin is a context too.
  const fromStdin = path.join(await scratch(), 'stdin-rootfs');
  const piped = await tsbuild(['--host', suite.host, 'build', '--progress=plain', '-o', `type=local,dest=${fromStdin}`, '-'], { root: await tempDir('tsbuild-client-'), input: 'FROM busybox:latest\nRUN echo piped > /p\n' });
  t.is(piped.code, 0, piped.stderr);
  t.is(await readFile(path.join(fromStdin, 'p'), 'utf8'), 'piped\n');
});

const sshSkip = sshAddSkipReason();
const itSsh = sshSkip ? test.skip : it;
itSsh(`--ssh default=KEYFILE is served by the client's own agent: ssh-add in a remote RUN lists the key${sshSkip ? ` (skipped: ${sshSkip})` : ''}`, async (t) => {
  const keyDir = await scratch();
  const key = path.join(keyDir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsbuild-remote-key', '-f', key]);
  const { files, run } = await sshAddBundle();
  const ctx = await makeContext({ ...files, Dockerfile: `FROM busybox:latest\nRUN --mount=type=bind,source=tools,target=/t --mount=type=ssh ${run} -l > /listed\n` });
  for (const f of Object.keys(files)) await chmod(path.join(ctx, f), 0o755);
  const out = path.join(await scratch(), 'rootfs');
  const r = await suite.remote(['build', '--progress=plain', '--ssh', `default=${key}`, '-o', `type=local,dest=${out}`, ctx]);
  t.is(r.code, 0, r.stderr);
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${key}.pub`], { encoding: 'utf8' }).trim();
  t.is((await readFile(path.join(out, 'listed'), 'utf8')).trim(), fingerprint);
});
