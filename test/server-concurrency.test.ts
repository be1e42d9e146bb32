// Many clients on one server: four overlapping builds at once all succeed
// and leave a consistent store; a client killed mid-upload, one killed
// while its RUN step runs (the step's processes must go) and one sending
// garbage leave the server serving the others.
import test from 'ava';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { buildSkipReason, freshStore, tsbuild, tempDir, TSBUILD_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { startServe, type TestServer } from './helpers/serve.js';
import { makeContext } from './e2e-image-helpers.js';

const skip = buildSkipReason();
const it = skip ? test.skip : test.serial;
if (skip) test.skip(`server concurrency (skipped: ${skip})`, () => {});

let store: Awaited<ReturnType<typeof freshStore>>;
let server: TestServer;
let host: string;

test.before(async () => {
  if (skip) return;
  store = await freshStore();
  const sock = path.join(await tempDir('tsbuild-sock-'), 'tsbuild.sock');
  server = await startServe(store.root, ['--addr', `unix://${sock}`, '--max-parallelism', '2']);
  host = `unix://${sock}`;
});
test.after.always(async () => {
  await server?.stop();
  await store?.dispose();
});

const remote = async (args: string[]) => tsbuild(['--host', host, ...args], { root: await tempDir('tsbuild-client-') });

function processesRunning(marker: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(marker)) n++;
    } catch {
      // Gone meanwhile.
    }
  }
  return n;
}

/** A client process whose stderr can be watched; killed by the test. */
function startClient(args: string[]) {
  const child = spawn(process.execPath, [TSBUILD_BIN, '--host', host, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const seen = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => (re.test(err) ? resolve() : undefined);
    child.stderr!.on('data', check);
    child.once('exit', () => (re.test(err) ? resolve() : reject(new Error(`client exited before ${re}:\n${err}`))));
    setTimeout(() => reject(new Error(`client never printed ${re}:\n${err}`)), 120_000).unref();
    check();
  });
  return { child, seen };
}

it('four clients build overlapping Dockerfiles at once; all succeed and the store checks out', async (t) => {
  const shared = 'FROM busybox:latest\nRUN echo shared > /shared.txt\nCOPY common.txt /common.txt\n';
  const builds = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const ctx = await makeContext({ Dockerfile: `${shared}RUN echo client-${i} > /own.txt\n`, 'common.txt': 'common\n' });
    const out = path.join(await tempDir(), 'out');
    const r = await remote(['build', '--progress', 'plain', '-t', `many:${i}`, '-o', 'type=image', '-o', `type=local,dest=${out}`, ctx]);
    return { i, r, out };
  }));
  for (const { i, r, out } of builds) {
    t.is(r.code, 0, r.stderr);
    t.is(await readFile(path.join(out, 'own.txt'), 'utf8'), `client-${i}\n`);
    t.is(await readFile(path.join(out, 'shared.txt'), 'utf8'), 'shared\n');
  }
  const images = await remote(['images']);
  for (const i of [0, 1, 2, 3]) t.regex(images.stdout, new RegExp(`many\\s+${i}\\b`));
  const check = await remote(['du', '--check']);
  t.is(check.code, 0, check.stdout + check.stderr);
});

it('a client killed mid-upload and one killed during a RUN leave the server serving; the RUN is stopped', async (t) => {
  const big = await makeContext({ Dockerfile: 'FROM busybox:latest\nCOPY . /ctx\n', 'big.bin': randomBytes(64 * 1024 * 1024) });
  const uploading = startClient(['build', '--progress', 'plain', big]);
  // Killed as soon as it has started: hashing, uploading or building, the server must not care.
  await new Promise((r) => setTimeout(r, 300));
  uploading.child.kill('SIGKILL');

  const marker = `sleep 6${Math.floor(Math.random() * 1000)}`;
  const slow = await makeContext({ Dockerfile: `FROM busybox:latest\nRUN ${marker}\n` });
  const running = startClient(['build', '--progress', 'plain', '--no-cache', slow]);
  await running.seen(new RegExp(`#\\d+ \\[[^\\]]*\\] RUN ${marker}`));
  for (let i = 0; i < 100 && processesRunning(marker) === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.true(processesRunning(marker) > 0, 'the RUN step is running');
  running.child.kill('SIGKILL');
  // The disconnect cancels the build on the server: its sandbox goes.
  for (let i = 0; i < 300 && processesRunning(marker) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.is(processesRunning(marker), 0, 'the canceled RUN step was killed');

  await new Promise<void>((resolve) => {
    const s = net.connect(host.slice('unix://'.length), () => s.write(randomBytes(4096)));
    s.on('data', () => s.destroy());
    setTimeout(() => s.destroy(), 3000);
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  const after = await remote(['build', '-q', await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo still-serving > /x\n' })]);
  t.is(after.code, 0, after.stderr);
  const check = await remote(['du', '--check']);
  t.is(check.code, 0, check.stdout + check.stderr);
  t.notRegex(server.log(), /internal error/);
});

it('SIGTERM lets a running build finish within the grace period, then the server exits', async (t) => {
  const sock = path.join(await tempDir('tsbuild-sock-'), 'grace.sock');
  const graceful = await startServe(store.root, ['--addr', `unix://${sock}`, '--shutdown-timeout', '60s']);
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN sleep 2 && echo finished > /done.txt\n' });
  const out = path.join(await tempDir(), 'out');
  const child = spawn(process.execPath, [TSBUILD_BIN, '--host', `unix://${sock}`, 'build', '--no-cache', '--progress', 'plain', '-o', `type=local,dest=${out}`, ctx], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  while (!/RUN sleep 2/.test(err) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const exited = graceful.stop();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 0, err);
  t.is(await readFile(path.join(out, 'done.txt'), 'utf8'), 'finished\n');
  t.is(await exited, 0);
  // It stopped accepting: a new client finds no server.
  const late = await tsbuild(['--host', `unix://${sock}`, 'images'], { root: await tempDir() });
  t.is(late.code, 1);
});
