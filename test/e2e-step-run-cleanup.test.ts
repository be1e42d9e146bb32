// End to end: nothing of a RUN outlives its build — after success, failure,
// Ctrl-C (SIGINT) mid-step, and `kill -9` of tsbuild (then the next build
// tidies up): no mounts, cgroups, processes, or temp dirs in the store.
//
// Other test files may build at the same time (ava runs files in parallel),
// so a host-wide "new mount" or "new cgroup" only counts as left over if it
// is still there after a grace period; mounts under this file's own store
// are checked strictly.
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { storeSuite, tempDir, tsbuild, TSBUILD_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = storeSuite('e2e RUN cleanup', { serial: true });
const { skip, it } = suite;
const secretValue = `cleanup-secret-${randomBytes(12).toString('hex')}`;
let secretFile = '';
test.before(async () => {
  if (skip) return;
  await suite.ready();
  const sdir = await tempDir('e2e-run-secret-');
  secretFile = path.join(sdir, 'tok');
  await writeFile(secretFile, secretValue);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- what the host has ---------------------------------------------------

const mountLines = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(Boolean);

function cgroupParents(): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup/tsbuild'];
  return ['memory', 'pids', 'cpu', 'devices'].map((c) => `/sys/fs/cgroup/${c}/tsbuild`);
}
async function cgroups(): Promise<string[]> {
  const out: string[] = [];
  for (const parent of cgroupParents()) {
    for (const e of await readdir(parent, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) out.push(`${parent}/${e.name}`);
  }
  return out;
}

/** Live (non-zombie) processes whose command line starts with `argv` (and passes `keep`). */
async function processesRunning(argv: string[], keep: (cmd: string[]) => boolean = () => true): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv.every((a, i) => cmd[i] === a) || !keep(cmd)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    if (!/^State:\s+Z/m.test(status)) pids.push(Number(pid));
  }
  return pids;
}

/** Entries of `now()` not in `before` that are still there after a grace period (others' builds end by then). */
async function leftovers(before: string[], now: () => Promise<string[]>, graceMs = 15000): Promise<string[]> {
  const old = new Set(before);
  const deadline = Date.now() + graceMs;
  for (;;) {
    const added = (await now()).filter((x) => !old.has(x));
    if (added.length === 0 || Date.now() > deadline) return added;
    await sleep(250);
  }
}

interface HostState { mounts: string[]; cgroups: string[] }
const hostState = async (): Promise<HostState> => ({ mounts: await mountLines(), cgroups: await cgroups() });

/** What this file's store and the host have left over since `before`. */
async function assertNothingLeft(t: import('ava').ExecutionContext, before: HostState, sleepArgv?: string[]) {
  t.deepEqual((await mountLines()).filter((l) => l.includes(suite.store.root)), [], 'no mount of the store is left');
  t.deepEqual(await leftovers(before.mounts, mountLines), [], 'no new mount is left');
  t.deepEqual(await leftovers(before.cgroups, cgroups), [], 'no new cgroup is left');
  if (sleepArgv) t.deepEqual(await processesRunning(sleepArgv), [], `no ${sleepArgv.join(' ')} is left running`);
  t.deepEqual(await readdir(path.join(suite.store.root, 'state', 'sandbox')).catch(() => []), [], 'no sandbox run state is left');
  t.deepEqual((await readdir(path.join(suite.store.root, 'snapshots'))).filter((e) => e.startsWith('tmp-')), [], 'no step workspace is left');
}

// --- a build's context and the CLI in the background --------------------


/** A context whose last RUN holds every kind of host-side mount (stage view, rw overlay, secret, cache). */
function contextRunning(command: string): Promise<string> {
  return makeContext({
    'data/f.txt': 'data\n',
    Dockerfile: `FROM busybox:latest AS other
RUN echo o > /o.txt

FROM busybox:latest
RUN --mount=type=bind,from=other,target=/other --mount=type=bind,source=data,target=/data,rw \\
    --mount=type=secret,id=tok --mount=type=cache,target=/cache \\
    ${command}
`,
  }, 'e2e-run-ctx-');
}
const secretArgs = () => ['--secret', `id=tok,src=${secretFile}`];

interface Background {
  pid: number;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function buildInBackground(args: string[]): Background {
  const child = spawn(process.execPath, [TSBUILD_BIN, 'build', '--progress=plain', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CI: 'true', NO_COLOR: '1', TSBUILD_ROOT: suite.store.root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    async waitFor(re, timeoutMs = 60000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in:\n${out}`);
        await sleep(100);
      }
    },
  };
}

// A build that has to run a RUN (nothing cached): it also sweeps what a killed build left.
async function nextBuildWorks(t: import('ava').ExecutionContext): Promise<void> {
  const dir = await makeContext({ Dockerfile: `FROM busybox:latest\nRUN echo ${randomBytes(6).toString('hex')} > /x\n` }, 'e2e-run-ctx-');
  const r = await tsbuild(['build', '--progress=plain', dir], { root: suite.store.root });
  t.is(r.code, 0, r.stderr);
}

// --- the tests -------------------------------------------------------------

it('after a successful build and a failed build nothing is left: mounts, cgroups, processes, run state', async (t) => {
  const before = await hostState();
  const ok = await tsbuild(['build', '--progress=plain', ...secretArgs(), await contextRunning('cat /other/o.txt /data/f.txt /run/secrets/tok > /dev/null')], { root: suite.store.root });
  t.is(ok.code, 0, ok.stderr);
  await assertNothingLeft(t, before);

  const failed = await tsbuild(['build', '--progress=plain', ...secretArgs(), await contextRunning('echo about-to-fail; exit 3')], { root: suite.store.root });
  t.not(failed.code, 0);
  t.regex(failed.stderr, /exit code: 3/);
  await assertNothingLeft(t, before);
});

// run-mounts.ts releases an rw bind with `rm(target, { recursive: false })`,
// which refuses a directory: the empty mountpoint dir stays in <root>/mounts.
it('no mountpoint dirs stay in the store after a build with an rw bind mount', async (t) => {
  const r = await tsbuild(['build', '--progress=plain', ...secretArgs(), await contextRunning('echo rw > /data/new')], { root: suite.store.root });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(await readdir(path.join(suite.store.root, 'mounts')), []);
});

it('SIGINT in the middle of a RUN: prompt non-zero exit, the step\'s processes killed, nothing left, next build works', async (t) => {
  const before = await hostState();
  const build = buildInBackground([...secretArgs(), await contextRunning('echo started-step && sleep 41')]);
  await build.waitFor(/\d started-step/);
  t.true((await processesRunning(['sleep', '41'])).length > 0, 'the step is running');
  const sentAt = Date.now();
  process.kill(build.pid, 'SIGINT');
  const end = await build.exited;
  t.true(end.at - sentAt < 15000, `tsbuild took ${end.at - sentAt} ms to stop`);
  t.true(end.code !== 0, build.output());
  t.regex(build.output(), /cancel|abort|interrupt/i);
  await assertNothingLeft(t, before, ['sleep', '41']);
  await nextBuildWorks(t);
});

interface KillNineObservations { pid: number; before: HostState; sleepGoneMs: number | null; stateAfterNextBuild: string[]; secretFound: string[] }
let killNine: Promise<KillNineObservations> | undefined;

/** kill -9 of tsbuild mid-RUN, then one more build; shared by the tests below. */
function killNineScenario(t: import('ava').ExecutionContext): Promise<KillNineObservations> {
  killNine ??= (async () => {
    const before = await hostState();
    const build = buildInBackground([...secretArgs(), await contextRunning('echo started-step && sleep 42')]);
    await build.waitFor(/\d started-step/);
    process.kill(build.pid, 'SIGKILL');
    await build.exited;
    // The helper dies with tsbuild (PDEATHSIG), and PID 1 and its children with the helper.
    const killedAt = Date.now();
    let sleepGoneMs: number | null = null;
    while (Date.now() - killedAt < 10000) {
      if ((await processesRunning(['sleep', '42'])).length === 0) { sleepGoneMs = Date.now() - killedAt; break; }
      await sleep(100);
    }
    await nextBuildWorks(t);
    // sandbox/ holds the run records, seccomp/ the compiled filters kept for later runs: neither is a leftover.
    const stateAfterNextBuild = (await readdir(path.join(suite.store.root, 'state'))).filter((e) => e !== 'sandbox' && e !== 'seccomp');
    const secretFound: string[] = [];
    for (const e of stateAfterNextBuild) {
      const f = path.join(suite.store.root, 'state', e, 'secret');
      if ((await readFile(f, 'utf8').catch(() => '')).includes(secretValue)) secretFound.push(f);
    }
    return { pid: build.pid, before, sleepGoneMs, stateAfterNextBuild, secretFound };
  })();
  return killNine;
}

it('kill -9 of tsbuild mid-RUN: the step dies with it, and the next build removes its mounts, cgroup and run state', async (t) => {
  const seen = await killNineScenario(t);
  t.not(seen.sleepGoneMs, null, 'the step\'s process died with tsbuild');
  // Sandbox launchers of this store (their config lives in it), and fsop
  // servers of the killed build: other test files run theirs at the same time.
  const ours = (cmd: string[]) => cmd[1] === 'fsop' ? cmd[cmd.indexOf('--owner') + 1] === String(seen.pid) : cmd.some((a) => a.includes(suite.store.root));
  t.deepEqual(await processesRunning([path.join(PROJECT_ROOT, 'runner-native/build/tsbuild-sandbox')], ours), []);
  await assertNothingLeft(t, seen.before, ['sleep', '42']);
  t.deepEqual(await readdir(path.join(suite.store.root, 'mounts')), [], 'no mountpoint dir of the killed build is left');
});

// builder/store/open-store.ts cleanupStale() sweeps stale mounts, snapshot
// and content temp files, but not <root>/state/<label>-<pid>-<hex> dirs: a
// killed build's rw-bind upper dirs and secret files stay forever, the
// secret's value on disk in the store.
it('kill -9 of tsbuild mid-RUN: the next build removes the killed build\'s secret file and rw upper dir', async (t) => {
  const seen = await killNineScenario(t);
  t.deepEqual(seen.secretFound, [], 'the secret value must not stay in the store');
  t.deepEqual(seen.stateAfterNextBuild, []);
});
