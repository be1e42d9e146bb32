// The fsop server bin/tsbuild has the sandbox helper start before Node
// (helper/prestart.c, runner-native/fsop-prestarted.ts): a local build
// through bin/tsbuild runs its COPY and RUN through it and forks no process
// from Node; a Node that asks for another helper (other children) lets it
// go, and it ends.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { defaultHelperPath } from '../runner-native/availability.js';
import { buildSkipReason, CLIENT_CACHE, PROJECT_ROOT, storeSuite, tsbuild } from './helpers/cli.js';
import { makeContext, scratch } from './e2e-image-helpers.js';
import { runIf, toolMissing } from './helpers/skip.js';

const suite = storeSuite('fsop prestart');
const it = runIf(buildSkipReason() ?? toolMissing('strace'), suite.it);

/** bin/tsbuild itself (the shell launcher), under `strace -f`. */
function launcher(args: string[], trace: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('strace', ['-f', '-qq', '-e', 'trace=clone,clone3,execve', '-o', trace, path.join(PROJECT_ROOT, 'bin', 'tsbuild'), ...args], {
      env: { ...process.env, TSBUILD_ROOT: suite.store.root, XDG_CACHE_HOME: CLIENT_CACHE, CI: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

it('a build through bin/tsbuild runs its COPY and RUN through the server started before Node: Node forks no process', async (t) => {
  // The base unpacked first: a build that unpacks one asks for the host's helper before any step runs.
  const base = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN --network=none true\n' });
  t.is((await tsbuild(['build', '-q', base], { root: suite.store.root })).code, 0);
  const ctx = await makeContext({ 'app/a.txt': 'a\n', Dockerfile: 'FROM busybox:latest\nCOPY app /app\nRUN --network=none cat /app/a.txt > /ran && echo done >> /ran\n' });
  const dir = await scratch('tsbuild-prestart-');
  const trace = path.join(dir, 'trace');
  const iid = path.join(dir, 'iid');
  const r = await launcher(['build', '--progress=plain', '--iidfile', iid, ctx], trace);
  t.is(r.code, 0, r.stderr);
  const lines = (await readFile(trace, 'utf8')).split('\n');
  const nodeStart = lines.findIndex((l) => /execve\("[^"]*\/node", \["node"/.test(l));
  t.true(nodeStart > 0, 'the trace saw Node start');
  const nodePid = lines[nodeStart]!.split(' ')[0];
  // Threads (CLONE_THREAD) are Node's own; a process started by Node would
  // be a clone without it (the one before Node's execve is the server's).
  const forks = lines.slice(nodeStart).filter((l) => l.startsWith(`${nodePid} `) && /clone3?\(/.test(l) && !l.includes('CLONE_THREAD'));
  t.deepEqual(forks, [], 'Node forked no process');
  const server = lines.find((l) => /execve\("[^"]*tsbuild-sandbox", \[[^\]]*"fsop", "--owner"/.test(l));
  t.truthy(server, 'the fsop server ran');
  t.true(lines.some((l) => l.includes('"--config-on-stdin"')), 'the waiting sandbox helper ran');
  // What the RUN wrote, from the COPY's file.
  const id = readFileSync(iid, 'utf8').trim();
  const run = await tsbuild(['run', '--rm', id, 'cat', '/ran'], { root: suite.store.root });
  t.is(run.stdout, 'a\ndone\n', run.stderr);
});

it('a Node that asks for a helper with other children lets the server go, and it ends', async (t) => {
  // privateFsop() with no children: three sockets, not the server's six.
  const script = `
    import { readFileSync } from 'node:fs';
    globalThis[Symbol.for('tsbuild.prestartedFsop')] = process.env.TSBUILD_PRESTARTED_FSOP;
    const pid = Number(process.env.TSBUILD_PRESTARTED_FSOP.split(' ')[0]);
    const { privateFsop } = await import(${JSON.stringify(path.join(PROJECT_ROOT, 'dist', 'runner-native', 'fsop.js'))});
    const own = privateFsop([]);
    await own.getXattr('/', 'tmp', 'user.none');
    const state = () => { try { return readFileSync('/proc/' + pid + '/stat', 'utf8').replace(/^.*\\) /s, '')[0]; } catch { return 'gone'; } };
    for (let i = 0; i < 100 && !['Z', 'gone'].includes(state()); i++) await new Promise((r) => setTimeout(r, 20));
    console.log(JSON.stringify({ other: own.pid !== pid, ended: ['Z', 'gone'].includes(state()) }));
    own.close();
  `;
  const { stdout } = await promisify(execFile)(defaultHelperPath(), ['prestart', process.execPath, '--input-type=module', '-e', script]);
  t.deepEqual(JSON.parse(stdout), { other: true, ended: true });
});
