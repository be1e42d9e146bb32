// End-to-end detached containers: `run -d`, `ps`, `logs`, `stop`, `rm`, a
// published port (the primer's web exercise with busybox httpd), and a
// supervisor killed with -9. Needs root and a working sandbox; otherwise
// every test is skipped with the reason.
import test, { type ExecutionContext } from 'ava';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sandboxAvailability } from '../runner-native/index.js';
import { openStore } from '../builder/store/open-store.js';
import { importRootfs } from '../builder/image/import-rootfs.js';
import { tarFromDir } from '../cache/layer-diff.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { busyboxAvailable, makeBusyboxRootfs } from '../fixtures/base-images/busybox-rootfs.js';
import { tsbuild, type CliOptions } from './helpers/cli.js';
import { containerCgroups, mountsUnder, processesMentioning } from './helpers/host-state.js';
import type { ContainerState } from '../builder/containers/container-store.js';
import { freePort } from './helpers/free-port.js';
import { removeTempDir, tempDir } from './helpers/temp-dirs.js';

const availability = await sandboxAvailability();
const skipReason = !availability.ok ? availability.reason : !busyboxAvailable() ? '/bin/busybox is missing (busybox-static)' : null;
const root = await tempDir('tsbuild-run-d-');
const PAGE = '<h1>served from a tsbuild container</h1>\n';

// fixtures/projects/web as an imported image: busybox plus /var/www/index.html, CMD httpd
async function loadWebImage(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-web-img-'));
  try {
    const rootfs = path.join(tmp, 'rootfs');
    makeBusyboxRootfs(rootfs);
    await mkdir(path.join(rootfs, 'var/www'), { recursive: true });
    await writeFile(path.join(rootfs, 'var/www/index.html'), PAGE);
    const tar = path.join(tmp, 'rootfs.tar');
    await tarFromDir(rootfs, createWriteStream(tar));
    const store = await openStore(root);
    await importRootfs(store.content, store.images, tar, 'web:test', {
      config: {
        Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['httpd', '-f', '-v', '-p', '80', '-h', '/var/www'],
        ExposedPorts: { '80/tcp': {} },
      },
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (!skipReason) {
  await loadBusyboxImage('busybox:latest', root);
  await loadWebImage();
}
test.after.always(async () => {
  // a failed test may leave a container running: take it down before the store goes
  if (!skipReason) {
    const ids = (await tsbuild(['ps', '-a', '-q'], { root })).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await tsbuild(['rm', '-f', ...ids], { root });
  }
  await removeTempDir(root);
});

const e2e = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  skipReason ? test.skip(`${title} (skipped: ${skipReason})`, () => undefined) : test.serial(title, fn);

const cli = (...args: string[]) => tsbuild(args, { root });

function stateOf(id: string): ContainerState {
  return JSON.parse(readFileSync(path.join(root, 'containers', id, 'state.json'), 'utf8')) as ContainerState;
}

async function expectNothingLeft(t: ExecutionContext, id: string, initPid: number | undefined): Promise<void> {
  t.deepEqual(containerCgroups(id.slice(0, 12)), [], 'no cgroup of the container is left');
  t.deepEqual(mountsUnder(root), [], 'no mount under the store is left');
  t.deepEqual(processesMentioning(id), [], 'no supervisor or port forwarder is left');
  if (initPid !== undefined) {
    t.false(existsSync(`/proc/${initPid}`), 'the container init is gone');
    t.deepEqual(processesMentioning(` ${initPid} tap0`), [], 'no slirp4netns is left');
  }
  t.false(existsSync(path.join(root, 'containers', id)), 'the container dir is gone');
}

function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => { body += s; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function getWithRetry(port: number, seconds: number): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      return await httpGet(port);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

e2e('run -d, ps, logs, stop (SIGTERM handled), rm', async (t) => {
  const script = 'echo started; trap "echo got TERM; exit 0" TERM; while true; do sleep 0.1; done';
  const r = await cli('run', '-d', '--name', 'worker', 'busybox', 'sh', '-c', script);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.regex(id, /^[0-9a-f]{64}$/);
  const initPid = stateOf(id).init?.pid;
  t.truthy(initPid);

  const ps = await cli('ps');
  t.regex(ps.stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
  t.regex(ps.stdout, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c echo started;…"\\s+.*Up .*worker$`, 'm'));
  t.is((await cli('ps', '-q')).stdout, `${id.slice(0, 12)}\n`);

  // the output may take a moment to reach the log
  let logs = '';
  for (let i = 0; i < 50 && !logs.includes('started'); i++, await sleep(100)) logs = (await cli('logs', 'worker')).stdout;
  t.is(logs, 'started\n');

  const refused = await cli('rm', 'worker');
  t.is(refused.code, 1);
  t.regex(refused.stderr, /container is running: stop the container before removing or force remove/);

  const stop = await cli('stop', '-t', '10', id.slice(0, 8));
  t.is(stop.code, 0, stop.stderr);
  t.is(stop.stdout, `${id.slice(0, 8)}\n`);
  t.is((await cli('ps', '-q')).stdout, '');
  t.regex((await cli('ps', '-a')).stdout, /Exited \(0\) .* ago\s+worker/);
  t.is((await cli('logs', 'worker')).stdout, 'started\ngot TERM\n');

  t.is((await cli('rm', 'worker')).code, 0);
  t.is((await cli('ps', '-a', '-q')).stdout, '');
  await expectNothingLeft(t, id, initPid);
});

e2e('the web exercise: run -d -p PORT:80, GET the page, stop, rm, nothing left', async (t) => {
  const port = await freePort();
  const r = await cli('run', '-d', '-p', `${port}:80`, 'web:test');
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const initPid = stateOf(id).init?.pid;

  const res = await getWithRetry(port, 10);
  t.is(res.status, 200);
  t.is(res.body, PAGE);
  t.regex((await cli('ps')).stdout, new RegExp(`0\\.0\\.0\\.0:${port}->80/tcp`));
  // busybox httpd -v logs each request on stderr
  t.regex((await cli('logs', id.slice(0, 12))).stderr, /response:200/);

  // a port that is taken fails the next run cleanly, before anything starts
  const clash = await cli('run', '-d', '--rm', '-p', `${port}:80`, 'web:test');
  t.is(clash.code, 125);
  t.regex(clash.stderr, /cannot publish port 0\.0\.0\.0:\d+: .*EADDRINUSE/);

  // httpd as PID 1 has no SIGTERM handler: the kernel ignores it, the timeout brings SIGKILL
  const started = Date.now();
  t.is((await cli('stop', '-t', '1', id)).code, 0);
  t.true(Date.now() - started >= 1000);
  t.regex((await cli('ps', '-a')).stdout, /Exited \(137\)/);
  await t.throwsAsync(httpGet(port));
  t.is((await cli('rm', id)).code, 0);
  await expectNothingLeft(t, id, initPid);
});

e2e('rm -f kills a running container; run -d --rm removes itself at exit', async (t) => {
  const r = await cli('run', '-d', 'busybox', 'sleep', '100');
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const initPid = stateOf(id).init?.pid;
  t.is((await cli('rm', '-f', id)).code, 0);
  await expectNothingLeft(t, id, initPid);

  const auto = await cli('run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.3');
  t.is(auto.code, 0, auto.stderr);
  const autoId = auto.stdout.trim();
  // the supervisor removes the container as its very last step, then exits
  for (let i = 0; i < 50 && (existsSync(path.join(root, 'containers', autoId)) || processesMentioning(autoId).length > 0); i++) await sleep(100);
  await expectNothingLeft(t, autoId, undefined);
});

e2e('logs -f follows until the container exits', async (t) => {
  const r = await cli('run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.3; done');
  t.is(r.code, 0, r.stderr);
  const logs = await cli('logs', '-f', 'ticker');
  t.is(logs.stdout, 'tick 1\ntick 2\ntick 3\n');
  t.is((await cli('rm', 'ticker')).code, 0);
});

e2e('run -d with a command that cannot start reports it, like docker', async (t) => {
  const r = await cli('run', '-d', '--name', 'broken', 'busybox', 'no-such-command');
  t.is(r.code, 127);
  t.regex(r.stderr, /executable file not found/);
  t.regex((await cli('ps', '-a')).stdout, /Exited \(127\).*broken/);
  t.is((await cli('rm', 'broken')).code, 0);
  const stopMissing = await cli('stop', 'nothing-here');
  t.is(stopMissing.code, 1);
  t.regex(stopMissing.stderr, /no such container: nothing-here/);
});

e2e('a supervisor killed with -9: the container dies with it and the next command reaps it', async (t) => {
  const r = await cli('run', '-d', '--name', 'orphan', 'busybox', 'sleep', '100');
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const state = stateOf(id);
  process.kill(state.owner!.pid, 'SIGKILL');
  // PDEATHSIG takes the sandbox helper and the container init down
  for (let i = 0; i < 50 && existsSync(`/proc/${state.init!.pid}`); i++) await sleep(100);
  t.regex((await cli('ps', '-a')).stdout, /Exited \(137\).*orphan/);
  t.regex(stateOf(id).error ?? '', /died/);
  t.is((await cli('rm', 'orphan')).code, 0);
  await expectNothingLeft(t, id, state.init!.pid);
});

e2e('the primer exercise as written: tsbuild build fixtures/projects/web, run -d -p, GET, stop, rm', async (t) => {
  const project = path.join(process.cwd(), 'fixtures', 'projects', 'web');
  const build = await tsbuild(['build', '-q', '-t', 'web:built', project], { root, timeoutMs: 180_000 });
  t.is(build.code, 0, build.stderr);
  const port = await freePort();
  const r = await cli('run', '-d', '--name', 'primer', '-p', `127.0.0.1:${port}:80`, 'web:built');
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const initPid = stateOf(id).init?.pid;
  const res = await getWithRetry(port, 10);
  t.is(res.status, 200);
  t.is(res.body, readFileSync(path.join(project, 'www', 'index.html'), 'utf8'));
  t.is((await cli('stop', '-t', '0', 'primer')).code, 0);
  t.is((await cli('rm', 'primer')).code, 0);
  await expectNothingLeft(t, id, initPid);
});
