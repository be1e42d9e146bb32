// Build server performance, side by side in one run (whole client
// processes, start included; medians of RUNS runs):
//   - a no-op rebuild of a 5,000-file project: local, through a server on a
//     unix socket, and through ssh://127.0.0.1 (a throwaway sshd, when
//     Debian's openssh-server is installed)
//   - bytes the client sent for a one-file change (a counting proxy in
//     front of the socket), against that file's size
//   - four clients building at once through the server against four
//     sequential local builds (distinct RUN steps, --no-cache)
// Usage (as root): node dist/bench/server.js [--runs N] [--files N]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { sshdSkipReason, startSshd } from '../test/helpers/sshd.js';
import { countingProxy } from '../test/helpers/serve.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(PROJECT_ROOT, 'bin/tsbuild.js');
const args = process.argv.slice(2);
const flag = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const RUNS = Math.max(3, flag('--runs', 5));
const FILES = flag('--files', 5000);
const FILE_BYTES = 8 * 1024;
const EDITED_BYTES = 64 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function generate(dir: string): void {
  let seed = 7;
  const chunk = Buffer.alloc(FILE_BYTES);
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, 'src', `d${i % 50}`);
    mkdirSync(sub, { recursive: true });
    for (let j = 0; j < FILE_BYTES; j += 4) chunk.writeUInt32LE((seed = (seed * 1103515245 + 12345) >>> 0), j);
    writeFileSync(path.join(sub, `f${i}.txt`), chunk);
  }
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /app\nRUN find /app | wc -l > /count\n');
}

function run(argv: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...argv], { env: { ...process.env, CI: 'true', ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsbuild ${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function runAsync(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...argv], { env: { ...process.env, CI: 'true', ...env }, stdio: 'ignore' });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsbuild ${argv.join(' ')} exited ${code}`))));
  });
}

async function startServer(root: string, sock: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--addr', `unix://${sock}`], { env: { ...process.env, TSBUILD_ROOT: root }, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => (/serving on/.test(d.toString()) ? resolve() : undefined));
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return child;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (builds mount overlays)');
  const work = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-bench-server-'));
  const ctx = path.join(work, 'project');
  generate(ctx);
  const localRoot = path.join(work, 'local-store');
  const serverRoot = path.join(work, 'server-store');
  await loadBusyboxImage('busybox:latest', localRoot);
  await loadBusyboxImage('busybox:latest', serverRoot);
  const sock = path.join(work, 'tsbuild.sock');
  const server = await startServer(serverRoot, sock);
  const proxy = await countingProxy(path.join(work, 'counting.sock'), sock);
  const clientEnv = { TSBUILD_ROOT: path.join(work, 'client-store'), XDG_CACHE_HOME: path.join(work, 'client-cache') };
  const build = ['build', '--progress=plain', '-t', 'bench:latest', ctx];
  console.log(`project: ${FILES} files, ${((FILES * FILE_BYTES) / 1024 / 1024).toFixed(1)} MB; ${RUNS} runs each; ${os.availableParallelism()} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);
  try {
    // Warm-up: the first build and one more (the checksum caches' racy-timestamp rule).
    for (let i = 0; i < 2; i++) {
      run(build, { TSBUILD_ROOT: localRoot });
      run(['--host', `unix://${sock}`, ...build], clientEnv);
    }
    const local: number[] = [];
    const viaSocket: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      local.push(run(build, { TSBUILD_ROOT: localRoot }));
      viaSocket.push(run(['--host', `unix://${sock}`, ...build], clientEnv));
    }
    let viaSsh: number[] | string = sshdSkipReason() ?? [];
    if (Array.isArray(viaSsh)) {
      const sshd = await startSshd(mkdtempSync(path.join(work, 'sshd-')));
      const home = mkdtempSync(path.join(work, 'home-'));
      const ssh = ['--host', `ssh://root@127.0.0.1:${sshd.port}`, '--ssh-identity', sshd.clientKey, '--ssh-accept-new-host-key', '--ssh-command', `${process.execPath} ${BIN} serve --stdio --addr unix://${sock}`];
      try {
        run([...ssh, ...build], { ...clientEnv, HOME: home, SSH_AUTH_SOCK: '' });
        for (let i = 0; i < RUNS; i++) viaSsh.push(run([...ssh, ...build], { ...clientEnv, HOME: home, SSH_AUTH_SOCK: '' }));
      } finally {
        sshd.stop();
      }
    }
    // One file changed: what the client sends.
    const sentBytes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      writeFileSync(path.join(ctx, 'src/d7/f7.txt'), Buffer.alloc(EDITED_BYTES, i + 1));
      const before = proxy.sent();
      run(['--host', `unix://${path.join(work, 'counting.sock')}`, ...build], clientEnv);
      sentBytes.push(proxy.sent() - before);
    }
    // Four distinct builds: sequential and local, then four clients at once through the server.
    const small = (i: number, tag: string) => {
      const dir = path.join(work, `small-${tag}-${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox:latest\nRUN i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; echo ${tag}-${i} > /out\n`);
      return ['build', '--no-cache', '--progress=plain', dir];
    };
    let started = Date.now();
    for (let i = 0; i < 4; i++) run(small(i, 'seq'), { TSBUILD_ROOT: localRoot });
    const sequential = Date.now() - started;
    started = Date.now();
    await Promise.all([0, 1, 2, 3].map((i) => runAsync(['--host', `unix://${sock}`, ...small(i, 'par')], clientEnv)));
    const concurrent = Date.now() - started;

    const row = (name: string, ms: number, extra = '') => console.log(`${name.padEnd(44)} ${ms.toFixed(0).padStart(7)} ms${extra}`);
    console.log('');
    row('no-op rebuild, local', median(local));
    row('no-op rebuild, server (unix socket)', median(viaSocket), `   (${((median(viaSocket) / median(local)) * 100).toFixed(0)}% of local)`);
    if (Array.isArray(viaSsh)) row('no-op rebuild, server (ssh://127.0.0.1)', median(viaSsh));
    else console.log(`no-op rebuild, server (ssh://)               skipped: ${viaSsh}`);
    console.log(`${'one-file change: bytes sent'.padEnd(44)} ${median(sentBytes).toFixed(0).padStart(7)} B    (file ${EDITED_BYTES} B; target < 2x + 1 MB)`);
    row('4 builds, sequential, local', sequential);
    row('4 clients at once, server', concurrent);
    console.log(`load average now ${os.loadavg()[0]!.toFixed(1)}`);
  } finally {
    proxy.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
