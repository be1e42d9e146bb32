// End to end: RUN --mount of every type through the real `tsbuild build`:
// bind (context, stage, ro/rw), cache (across builds, locked, owner),
// tmpfs, secret (and that its value leaks nowhere), ssh.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, readdir, lstat, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tsbuild } from './helpers/cli.js';
import { e2eRunSuite } from './e2e-step-run-helpers.js';
import { build, readTar } from './e2e-image-helpers.js';
import { sshAddBundle } from './helpers/ssh-add-bundle.js';

const suite = e2eRunSuite('e2e RUN mounts');
const { skip, it, scratchDir, context } = suite;

async function buildLocal(ctx: string, dockerfile: string, args: string[] = [], env?: NodeJS.ProcessEnv) {
  const out = path.join(await scratchDir('out'), 'rootfs');
  const r = await build(suite.store.root, ctx, dockerfile, ['-o', `type=local,dest=${out}`, ...args], env);
  return { out, log: r.stdout + r.stderr };
}
const text = async (root: string, p: string) => (await readFile(path.join(root, p), 'utf8')).trim();
const exists = (root: string, p: string) => existsSync(path.join(root, p));

it('bind mounts: the context by default, a source dir, a stage; read-only unless rw, and rw writes are thrown away', async (t) => {
  const ctx = await context({ 'a.txt': 'from context\n', 'sub/s.txt': 'in sub\n' });
  const { out } = await buildLocal(ctx, `FROM busybox:latest AS other
RUN echo from stage > /o.txt

FROM busybox:latest
RUN --mount=type=bind,target=/ctx cat /ctx/a.txt > /ctx-a; touch /ctx/w 2> /ctx-w.err || echo refused > /ctx-w
RUN --mount=type=bind,source=sub,target=/m cat /m/s.txt > /m-s
RUN --mount=type=bind,from=other,source=/o.txt,target=/stage/o.txt cat /stage/o.txt > /stage-o
RUN --mount=type=bind,source=sub,target=/rwm,rw echo new > /rwm/new.txt && rm /rwm/s.txt && ls /rwm > /rw-view
RUN ls /rwm > /rw-after 2>&1 || echo gone > /rw-after
`);
  t.is(await text(out, 'ctx-a'), 'from context');
  t.is(await text(out, 'ctx-w'), 'refused');
  t.regex(await text(out, 'ctx-w.err'), /read-only/i);
  t.is(await text(out, 'm-s'), 'in sub');
  t.is(await text(out, 'stage-o'), 'from stage');
  t.is(await text(out, 'rw-view'), 'new.txt', 'the step sees its own writes to an rw bind');
  t.is(await text(out, 'rw-after'), 'gone', 'nothing of the rw mount reaches the next step');
  // Neither the mount targets nor the rw writes are in the image, and the context is untouched.
  for (const p of ['ctx', 'm', 'stage', 'rwm']) t.false(exists(out, p), `/${p} must not be in the image`);
  t.deepEqual((await readdir(path.join(ctx, 'sub'))).sort(), ['s.txt']);
  t.is(await readFile(path.join(ctx, 'sub/s.txt'), 'utf8'), 'in sub\n');
});

/** Whether the step whose plain-progress header matches title was a cache hit. */
function wasCached(log: string, title: RegExp): boolean {
  const header = log.split('\n').find((l) => /^#\d+ \[/.test(l) && title.test(l));
  if (!header) throw new Error(`no step ${title} in:\n${log}`);
  return new RegExp(`^${header.split(' ')[0]} CACHED$`, 'm').test(log);
}

it('a bind mount of the context keys the step by the files it exposes: a change there re-runs it, a change elsewhere does not', async (t) => {
  const ctx = await context({ 'src/a.txt': 'one\n', 'other.txt': 'x\n' });
  const df = `FROM busybox:latest
RUN --mount=type=bind,source=src,target=/src cat /src/a.txt > /a
`;
  const step = /RUN --mount=type=bind,source=src/;
  t.false(wasCached((await buildLocal(ctx, df)).log, step));
  await writeFile(path.join(ctx, 'other.txt'), 'changed\n');
  t.true(wasCached((await buildLocal(ctx, df)).log, step), 'a file outside the mount changed: still cached');
  await writeFile(path.join(ctx, 'src/a.txt'), 'two\n');
  const rerun = await buildLocal(ctx, df);
  t.false(wasCached(rerun.log, step), 'a mounted file changed: the step runs again');
  t.is(await text(rerun.out, 'a'), 'two');
});

it('a cache mount keeps its contents into the next build and never enters a layer; uid/gid/mode apply', async (t) => {
  const ctx = await context({});
  const id = `c-${randomBytes(4).toString('hex')}`;
  const first = await buildLocal(ctx, `FROM busybox:latest
RUN --mount=type=cache,id=${id},target=/cache echo built1 > /cache/one && ls /cache > /first-ls
RUN --mount=type=cache,id=${id}-owned,target=/owned,uid=1000,gid=100,mode=0700 stat -c '%u %g %a' /owned > /owned-stat
`);
  t.is(await text(first.out, 'first-ls'), 'one');
  t.is(await text(first.out, 'owned-stat'), '1000 100 700');
  t.false(exists(first.out, 'cache'));
  t.false(exists(first.out, 'owned'));

  // A second build, with another command and another target: same id, same cache.
  const second = await buildLocal(ctx, `FROM busybox:latest
RUN --mount=type=cache,id=${id},target=/var/cache/other cat /var/cache/other/one > /seen && echo built2 >> /var/cache/other/one
`);
  t.is(await text(second.out, 'seen'), 'built1');
  t.false(exists(second.out, 'var/cache'), 'the cache target is no layer content');
  const third = await buildLocal(ctx, `FROM busybox:latest
RUN --mount=type=cache,id=${id},target=/c,sharing=locked cat /c/one > /seen-again
`);
  t.is(await text(third.out, 'seen-again'), 'built1\nbuilt2');
});

it('sharing=locked: two parallel stages using one cache take turns', async (t) => {
  const ctx = await context({});
  const id = `lock-${randomBytes(4).toString('hex')}`;
  // Each step marks the cache busy for a while; with the lock, neither sees the other's mark.
  const step = (name: string) => `RUN --mount=type=cache,id=${id},target=/c,sharing=locked \\
    if [ -e /c/busy ]; then echo overlap; else echo alone; fi > /r-${name}; touch /c/busy; sleep 1; rm /c/busy`;
  const { out } = await buildLocal(ctx, `FROM busybox:latest AS a
${step('a')}
FROM busybox:latest AS b
${step('b')}
FROM busybox:latest
COPY --from=a /r-a /r-a
COPY --from=b /r-b /r-b
`);
  t.is(await text(out, 'r-a'), 'alone');
  t.is(await text(out, 'r-b'), 'alone');
});

it('a tmpfs mount has its size, and neither it nor its contents reach the image', async (t) => {
  const ctx = await context({});
  const { out } = await buildLocal(ctx, `FROM busybox:latest
RUN --mount=type=tmpfs,target=/scratch/t,size=1m echo data > /scratch/t/f && df -k /scratch/t | tail -1 | tr -s ' ' | cut -d' ' -f1,2 > /df && grep ' /scratch/t ' /proc/mounts | cut -d' ' -f3 > /fstype
`);
  t.is(await text(out, 'df'), 'tmpfs 1024');
  t.is(await text(out, 'fstype'), 'tmpfs');
  t.false(exists(out, 'scratch'));
});

/** Every file under dir (any type but sockets, fifos, devices), recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  // A temp dir of a concurrent build may vanish while we look.
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesUnder(p));
    else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out;
}

/** Whether value is in buf as is, or inside it once gunzipped (layer blobs) or untarred (exports). */
async function holds(buf: Buffer, value: string): Promise<boolean> {
  if (buf.includes(value)) return true;
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return await holds(gunzipSync(buf), value);
    } catch {
      return false;
    }
  }
  if (buf.length >= 512 && buf.subarray(257, 262).toString() === 'ustar') {
    for (const e of await readTar(buf).catch(() => [])) if (await holds(e.data, value)) return true;
  }
  return false;
}

it('secrets: a file at a target or /run/secrets/<id>, an env var, from a file or an env var; the value is nowhere after the build', async (t) => {
  const fileValue = `file-secret-${randomBytes(12).toString('hex')}`;
  const envValue = `env-secret-${randomBytes(12).toString('hex')}`;
  const secretDir = await scratchDir('secret');
  const secretFile = path.join(secretDir, 'tok');
  execFileSync('sh', ['-c', `printf %s "$0" > "$1"`, fileValue, secretFile]);
  const ctx = await context({});
  const exportDir = await scratchDir('export');
  // The Dockerfile cannot hold the value (it would be in the history), so the
  // steps show what they saw by its length and by comparing two exposures.
  const df = `FROM busybox:latest
RUN --mount=type=secret,id=tok,target=/etc/app/token wc -c < /etc/app/token > /target-len; stat -c '%a %u' /etc/app/token > /target-stat
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /default-len
RUN --mount=type=secret,id=envtok,env=TOKEN_VAR printf %s "$TOKEN_VAR" | wc -c > /env-len
RUN --mount=type=secret,id=tok,env=BOTH,target=/run/secrets/both [ "$BOTH" = "$(cat /run/secrets/both)" ] && echo same > /both
RUN --mount=type=secret,id=tok,target=/s,mode=0440,uid=1000,gid=100 stat -c '%a %u %g' /s > /owned-stat
`;
  const env = { TSBUILD_TEST_SECRET: envValue };
  const secrets = ['--secret', `id=tok,src=${secretFile}`, '--secret', 'id=envtok,env=TSBUILD_TEST_SECRET'];
  const { out, log } = await buildLocal(ctx, df, [...secrets], env);
  t.is(await text(out, 'target-len'), String(fileValue.length));
  t.is(await text(out, 'target-stat'), '400 0');
  t.is(await text(out, 'default-len'), String(fileValue.length));
  t.is(await text(out, 'env-len'), String(envValue.length));
  t.is(await text(out, 'both'), 'same');
  t.is(await text(out, 'owned-stat'), '440 1000 100');
  for (const p of ['etc/app', 'run/secrets', 'run']) t.false(exists(out, p), `/${p} is a mount stub, not image content`);

  // The same build into the store and out as OCI and docker tars (cached steps, same result).
  const tagged = await build(suite.store.root, ctx, df, [...secrets, '-t', 'secret-test:v1'], env);
  const oci = await build(suite.store.root, ctx, df, [...secrets, '-o', `type=oci,dest=${path.join(exportDir, 'oci.tar')}`], env);
  const docker = await build(suite.store.root, ctx, df, [...secrets, '-o', `type=docker,dest=${path.join(exportDir, 'docker.tar')}`], env);

  const leaks: string[] = [];
  const logs = [log, tagged.stdout, tagged.stderr, oci.stdout, oci.stderr, docker.stdout, docker.stderr].join('\n');
  if (logs.includes(fileValue) || logs.includes(envValue)) leaks.push('the build output');
  const candidates = [...await filesUnder(suite.store.root), ...await filesUnder(exportDir), ...await filesUnder(out)];
  t.true(candidates.length > 10, 'the store and the exports were searched');
  for (const f of candidates) {
    // Other tests of this file build in the same store at the same time:
    // their leases and temp files may be gone by now.
    const buf = await readRegularFile(f);
    if (buf && (await holds(buf, fileValue) || await holds(buf, envValue))) leaks.push(f);
  }
  t.deepEqual(leaks, [], 'the secret values must appear nowhere');
});

it('secrets: required=true without the secret fails clearly; an optional missing secret is simply absent', async (t) => {
  const ctx = await context({ Dockerfile: 'FROM busybox:latest\nRUN --mount=type=secret,id=missing,required=true true\n' });
  const r = await tsbuild(['build', '--progress=plain', ctx], { root: suite.store.root });
  t.not(r.code, 0);
  t.regex(r.stderr, /secret missing/);
  t.notRegex(r.stderr, /internal error|\n\s+at /, 'a user error, not a stack trace');

  const optional = await buildLocal(await context({}), `FROM busybox:latest
RUN --mount=type=secret,id=missing ls /run/secrets/missing > /seen 2>&1 || echo absent > /seen
`);
  t.is(await text(optional.out, 'seen'), 'absent');
});

const SSH_TOOLS = ['/usr/bin/ssh-agent', '/usr/bin/ssh-add', '/usr/bin/ssh-keygen'];
const sshSkip = SSH_TOOLS.find((f) => !existsSync(f));
const itSsh = sshSkip ? test.skip : it;
const sshReason = sshSkip ? ` (skipped: ${sshSkip} is missing; apt-get install openssh-client)` : '';

function startAgent(sock: string): number {
  const out = execFileSync('ssh-agent', ['-a', sock], { encoding: 'utf8' });
  return Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
}

itSsh(`ssh: --ssh default=SOCKET forwards the agent; SSH_AUTH_SOCK is set and the socket is there${sshReason}`, async (t) => {
  const dir = await scratchDir('ssh');
  const sock = path.join(dir, 'agent.sock');
  const pid = startAgent(sock);
  t.teardown(() => process.kill(pid, 'SIGTERM'));
  const ctx = await context({});
  const { out } = await buildLocal(ctx, `FROM busybox:latest
RUN --mount=type=ssh echo "$SSH_AUTH_SOCK" > /sock-path && test -S "$SSH_AUTH_SOCK" && echo socket > /sock-type
RUN --mount=type=ssh,id=deploy,target=/agent.sock test -S /agent.sock && echo "$SSH_AUTH_SOCK" > /named
`, ['--ssh', `default=${sock}`, '--ssh', `deploy=${sock}`]);
  t.regex(await text(out, 'sock-path'), /^\/.+/);
  t.is(await text(out, 'sock-type'), 'socket');
  t.is(await text(out, 'named'), '/agent.sock');
  t.false(exists(out, 'run/buildkit'), 'the socket mountpoint is no image content');
  t.false(exists(out, 'agent.sock'));

  const r = await tsbuild(['build', '--progress=plain', await context({ Dockerfile: 'FROM busybox:latest\nRUN --mount=type=ssh,required=true true\n' })], { root: suite.store.root });
  t.not(r.code, 0);
  t.regex(r.stderr, /ssh/i);
});

itSsh(`ssh: --ssh default=KEYFILE,KEYFILE serves the keys from tsbuild's own agent: ssh-add lists them and signs in RUN${sshReason}`, async (t) => {
  const dir = await scratchDir('ssh-keys');
  const keys = ['ed25519', 'rsa', 'ecdsa'].map((type) => {
    const file = path.join(dir, `id_${type}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `tsbuild-test-${type}`, '-f', file]);
    return file;
  });
  const { files: bundle, run } = await sshAddBundle();
  const ctx = await context({ ...bundle, 'id_ed25519.pub': await readFile(`${keys[0]}.pub`), 'id_rsa.pub': await readFile(`${keys[1]}.pub`) });
  for (const f of Object.keys(bundle)) await chmod(path.join(ctx, f), 0o755);
  const { out } = await buildLocal(ctx, `FROM busybox:latest
RUN --mount=type=bind,source=tools,target=/t --mount=type=ssh ${run} -l > /listed
RUN --mount=type=bind,target=/ctx --mount=type=bind,source=tools,target=/t --mount=type=ssh ${run} -T /ctx/id_ed25519.pub /ctx/id_rsa.pub && echo signed > /signed
RUN --mount=type=bind,source=tools,target=/t --mount=type=ssh,id=deploy,target=/deploy.sock ${run} -l > /deploy-listed
`, ['--ssh', `default=${keys.join(',')}`, '--ssh', `deploy=${keys[2]}`]);
  const fingerprint = (f: string) => execFileSync('ssh-keygen', ['-lf', `${f}.pub`], { encoding: 'utf8' }).trim();
  t.deepEqual((await text(out, 'listed')).split('\n'), keys.map(fingerprint));
  t.is(await text(out, 'signed'), 'signed');
  t.is(await text(out, 'deploy-listed'), fingerprint(keys[2]!));
  // The keys live in tsbuild's memory only: no trace in the result, and the agent's socket dir is gone.
  // A line from the private section (the first lines are the header and the public key).
  const secret = (await readFile(keys[0]!, 'utf8')).split('\n')[4]!;
  // -s: files of concurrent builds in the shared store may vanish while grep reads; what matters is no match.
  t.is(spawnSync('grep', ['-rlFs', secret, out, suite.store.root], { encoding: 'utf8' }).stdout, '', 'grep finds the key nowhere');
  t.deepEqual((await readdir(path.join(suite.store.root, 'state'))).filter((n) => n.includes('ssh-agent')), []);
});

itSsh(`ssh: a key file that cannot be served is a one-line error${sshReason}`, async (t) => {
  const dir = await scratchDir('ssh-bad');
  const key = path.join(dir, 'id_locked');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', key]);
  const ctx = await context({ Dockerfile: 'FROM busybox:latest\nRUN --mount=type=ssh true\n' });
  for (const [spec, why] of [[key, /id_locked is passphrase-protected; add it to an ssh-agent/], [`${key}.pub`, /a public key; --ssh needs the private key file/]] as const) {
    const r = await tsbuild(['build', '--progress=plain', '--ssh', `default=${spec}`, ctx], { root: suite.store.root });
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, why);
    t.notRegex(r.stderr, /internal error|\n\s+at /);
  }
});

async function readRegularFile(f: string): Promise<Buffer | undefined> {
  try {
    if ((await lstat(f)).isSymbolicLink()) return undefined;
    return await readFile(f);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
