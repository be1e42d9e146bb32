// End-to-end `tsbuild run` in the foreground: real namespaces, overlay and
// cgroups, the busybox fixture image in a temp store. Needs root and a
// working sandbox; otherwise every test is skipped with the reason.
import test, { type ExecutionContext } from 'ava';
import { createWriteStream, existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { sandboxAvailability } from '../runner-native/index.js';
import { openStore } from '../builder/store/open-store.js';
import { importRootfs } from '../builder/image/import-rootfs.js';
import { tarFromDir } from '../cache/layer-diff.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { busyboxAvailable, makeBusyboxRootfs } from '../fixtures/base-images/busybox-rootfs.js';
import { tsbuild, type CliOptions } from './helpers/cli.js';
import { containerCgroups, mountsUnder, processesMentioning } from './helpers/host-state.js';
import { slirpInstalled } from '../runner-native/slirp.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

const availability = await sandboxAvailability();
const skipReason = !availability.ok ? availability.reason : !busyboxAvailable() ? '/bin/busybox is missing (busybox-static)' : null;
const root = await tempDir('tsbuild-run-cli-');

// an image whose ENTRYPOINT, CMD, USER, WORKDIR and ENV come from its config
async function loadConfiguredImage(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-run-img-'));
  try {
    const rootfs = path.join(tmp, 'rootfs');
    makeBusyboxRootfs(rootfs);
    const tar = path.join(tmp, 'rootfs.tar');
    await tarFromDir(rootfs, createWriteStream(tar));
    const store = await openStore(root);
    await importRootfs(store.content, store.images, tar, 'configured:test', {
      config: {
        Entrypoint: ['/bin/sh', '-c', 'echo "entry:$0:$GREETING:$(id -u):$(pwd)"'],
        Cmd: ['from-cmd'],
        Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello'],
        User: 'app',
        WorkingDir: '/home/app',
      },
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (!skipReason) {
  await loadBusyboxImage('busybox:latest', root);
  await loadConfiguredImage();
}
test.after.always(() => removeTempDir(root));

const e2e = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  skipReason ? test.skip(`${title} (skipped: ${skipReason})`, () => undefined) : test.serial(title, fn);

const run = (args: string[], opts: Partial<CliOptions> = {}) => tsbuild(['run', ...args], { ...opts, root });

async function expectNothingLeft(t: ExecutionContext, idPrefix: string): Promise<void> {
  t.deepEqual(containerCgroups(idPrefix), [], 'no cgroup of the container is left');
  t.deepEqual(mountsUnder(root), [], 'no mount under the store is left');
  t.deepEqual(processesMentioning(root), [], 'no supervisor is left');
  t.deepEqual(processesMentioning(idPrefix), [], 'no forwarder or helper of the container is left');
}

e2e('run --rm echo hi: prints hi, exits 0, leaves nothing', async (t) => {
  const r = await run(['--rm', 'busybox:latest', 'echo', 'hi']);
  t.is(r.stdout, 'hi\n');
  t.is(r.code, 0, r.stderr);
  // the default hostname is the container id's first 12 hex digits
  const h = await run(['--rm', 'busybox:latest', 'hostname']);
  const prefix = h.stdout.trim();
  t.regex(prefix, /^[0-9a-f]{12}$/);
  t.deepEqual(await readdir(path.join(root, 'containers')).then((e) => e.filter((x) => !x.startsWith('.'))), []);
  await expectNothingLeft(t, prefix);
});

e2e('exit codes propagate: the command, 127 not found, 126 not executable, 125 our errors', async (t) => {
  t.is((await run(['--rm', 'busybox', 'sh', '-c', 'exit 7'])).code, 7);
  const notFound = await run(['--rm', 'busybox', 'no-such-command']);
  t.is(notFound.code, 127);
  t.regex(notFound.stderr, /executable file not found/);
  t.is((await run(['--rm', 'busybox', '/etc/passwd'])).code, 126);
  const noImage = await run(['--rm', '--pull', 'never', 'nope:1', 'true']);
  t.is(noImage.code, 125);
  t.regex(noImage.stderr, /No such image: nope:1/);
  const tty = await run(['--rm', '-t', 'busybox', 'sh', '-c', 'test -t 1 && exit 9']);
  t.is(tty.code, 9, '-t gives the command a terminal even when ours is not one');
  t.is((await run(['--rm', 'busybox', 'sh', '-c', 'kill -TERM $$; sleep 1; exit 3'])).code, 3, 'PID 1 ignores TERM without a handler');
  t.is((await run(['--rm', 'busybox', 'sh', '-c', 'sh -c "kill -KILL \\$\\$"; exit $?'])).code, 137);
});

e2e('-e, --env-file, -w and -u shape the process', async (t) => {
  const envFile = path.join(root, 'vars.env');
  await writeFile(envFile, '# comment\nFROM_FILE=file\nOVERRIDDEN=file\n');
  const r = await run([
    '--rm', '-e', 'A=1', '-e', 'INHERITED', '--env-file', envFile, '-e', 'OVERRIDDEN=flag', '-w', '/tmp/new/dir', '-u', 'nobody',
    'busybox', 'sh', '-c', 'echo "$A $INHERITED $FROM_FILE $OVERRIDDEN $HOME"; pwd; id -u; id -g',
  ], { env: { INHERITED: 'from-caller' } });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '1 from-caller file flag /nonexistent\n/tmp/new/dir\n65534\n65534\n');
  const group = await run(['--rm', '-u', '1000:users', 'busybox', 'id']);
  t.regex(group.stdout, /^uid=1000\(app\) gid=100\(users\)/);
  const unknown = await run(['--rm', '-u', 'ghost', 'busybox', 'true']);
  t.is(unknown.code, 125);
  t.regex(unknown.stderr, /unable to find user ghost/);
});

e2e('the image config: ENTRYPOINT + CMD, USER, WORKDIR, ENV; --entrypoint replaces both', async (t) => {
  t.is((await run(['--rm', 'configured:test'])).stdout, 'entry:from-cmd:hello:1000:/home/app\n');
  t.is((await run(['--rm', 'configured:test', 'given'])).stdout, 'entry:given:hello:1000:/home/app\n');
  t.is((await run(['--rm', '--entrypoint', 'echo', 'configured:test'])).stdout, '\n', '--entrypoint drops the image CMD');
  t.is((await run(['--rm', '--entrypoint', 'echo', 'configured:test', 'a', 'b'])).stdout, 'a b\n');
  t.is((await run(['--rm', '-e', 'GREETING=bye', '-u', 'root', 'configured:test'])).stdout, 'entry:from-cmd:bye:0:/home/app\n');
  // busybox's own CMD is `sh`, which reads the (empty) stdin and ends
  t.is((await run(['--rm', 'busybox'])).code, 0);
});

e2e('-i passes stdin; without it the container reads nothing', async (t) => {
  t.is((await run(['--rm', '-i', 'busybox', 'cat'], { input: 'piped\n' })).stdout, 'piped\n');
  t.is((await run(['--rm', 'busybox', 'cat'], { input: 'piped\n' })).stdout, '');
});

e2e('--hostname and the hostname file', async (t) => {
  const r = await run(['--rm', '--hostname', 'box', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname; echo $HOSTNAME']);
  t.is(r.stdout, 'box\nbox\nbox\n');
});

e2e('--network none shows only lo; the default network has outbound access through slirp4netns', async (t) => {
  const none = await run(['--rm', '--network', 'none', 'busybox', 'sh', '-c', "ip -o link | cut -d: -f2"]);
  t.is(none.stdout.trim(), 'lo');
  if (!slirpInstalled()) {
    t.log('slirp4netns not installed: the private network check is skipped');
    return;
  }
  // Ready before the command starts, as docker's network is: its very first look finds tap0 and the route out.
  const priv = await run(['--rm', 'busybox', 'sh', '-c', 'ip -o -4 addr show tap0 | awk \'{print $4}\'; ip route | grep default; cat /etc/resolv.conf']);
  t.is(priv.stdout, '10.0.2.100/24\ndefault via 10.0.2.2 dev tap0 \nnameserver 10.0.2.3\n', priv.stderr);
  const host = await run(['--rm', '--network', 'host', 'busybox', 'hostname']);
  t.is(host.stdout.trim(), os.hostname());
});

e2e('--memory 64m: a big allocation is OOM-killed (137); --pids-limit stops forks', async (t) => {
  // busybox tail keeps everything after the last newline: /dev/zero has none
  const oom = await run(['--rm', '--memory', '64m', 'busybox', 'sh', '-c', 'head -c 200m /dev/zero | tail > /dev/null']);
  t.is(oom.code, 137, oom.stderr);
  const pids = await run(['--rm', '--pids-limit', '5', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait']);
  t.regex(pids.stderr, /can't fork|Resource temporarily unavailable|fork/i);
  const cpus = await run(['--rm', '--cpus', '0.5', 'busybox', 'true']);
  t.is(cpus.code, 0, cpus.stderr);
});

e2e('-v binds a host dir (ro refused writes), --read-only root', async (t) => {
  const host = path.join(root, 'shared');
  await mkdir(host, { recursive: true });
  await writeFile(path.join(host, 'in.txt'), 'from host\n');
  const rw = await run(['--rm', '-v', `${host}:/data`, 'busybox', 'sh', '-c', 'cat /data/in.txt; echo out > /data/out.txt']);
  t.is(rw.stdout, 'from host\n', rw.stderr);
  t.true(existsSync(path.join(host, 'out.txt')));
  const ro = await run(['--rm', '-v', `${host}:/data:ro`, 'busybox', 'sh', '-c', 'echo x > /data/y']);
  t.not(ro.code, 0);
  t.regex(ro.stderr, /Read-only file system/);
  const roRoot = await run(['--rm', '--read-only', 'busybox', 'sh', '-c', 'touch /x']);
  t.not(roRoot.code, 0);
  t.regex(roRoot.stderr, /Read-only file system/);
});

e2e('without --rm the container stays (exited, with its logs) until rm', async (t) => {
  const r = await run(['--name', 'kept', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
  t.is(r.code, 4);
  const ps = await tsbuild(['ps', '-a'], { root });
  t.regex(ps.stdout, /Exited \(4\).*kept/);
  const logs = await tsbuild(['logs', 'kept'], { root });
  t.is(logs.stdout, 'out\n');
  t.is(logs.stderr, 'err\n');
  const again = await run(['--name', 'kept', 'busybox', 'true']);
  t.is(again.code, 125);
  t.regex(again.stderr, /already in use/);
  const id = (await tsbuild(['ps', '-a', '-q', '--no-trunc'], { root })).stdout.trim();
  t.is((await tsbuild(['rm', 'kept'], { root })).code, 0);
  t.is((await tsbuild(['ps', '-a', '-q'], { root })).stdout, '');
  t.false(existsSync(path.join(root, 'containers', id)));
  await expectNothingLeft(t, id.slice(0, 12));
});

async function waitUntilRunning(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    for (const id of (await readdir(path.join(root, 'containers'))).filter((e) => /^[0-9a-f]{64}$/.test(e))) {
      const state = JSON.parse(await readFile(path.join(root, 'containers', id, 'state.json'), 'utf8').catch(() => '{}')) as { status?: string };
      if (state.status === 'running') return id;
    }
    await sleep(100);
  }
  throw new Error('no container started');
}

e2e('Ctrl-C is forwarded to the container; a second one kills it; --rm still cleans up', async (t) => {
  let child: ChildProcess | undefined;
  const handled = run(['--rm', 'busybox', 'sh', '-c', 'trap "echo got INT; exit 5" INT; while true; do sleep 0.1; done'], { onSpawn: (c) => { child = c; } });
  await waitUntilRunning();
  child!.kill('SIGINT');
  const r1 = await handled;
  t.is(r1.code, 5, r1.stderr);
  t.is(r1.stdout, 'got INT\n');

  // `sleep` as PID 1 has no handler: the first SIGINT is ignored by the kernel, the second kills
  const ignored = run(['--rm', 'busybox', 'sleep', '100'], { onSpawn: (c) => { child = c; } });
  const id = await waitUntilRunning();
  child!.kill('SIGINT');
  await sleep(300);
  child!.kill('SIGINT');
  const r2 = await ignored;
  t.is(r2.code, 137, r2.stderr);
  await expectNothingLeft(t, id.slice(0, 12));
  t.false(existsSync(path.join(root, 'containers', id)));
});
