// Build server performance, side by side in one run (whole client
// processes, start included; medians of RUNS runs, the series of a
// comparison alternating run by run):
//   - a no-op rebuild of a 5,000-file project: local, through a server on a
//     unix socket, and through ssh://127.0.0.1 (a throwaway sshd, when
//     Debian's openssh-server is installed)
//   - bytes the client sent for a one-file change and for a no-op (a
//     counting proxy in front of the socket), against that file's size
//   - four clients building at once through the server against four
//     sequential local builds (distinct RUN steps, --no-cache)
// Usage (as root): node dist/bench/server.js [--runs N] [--files N]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { sshdSkipReason, startSshd } from '../test/helpers/sshd.js';
import { countingProxy } from '../test/helpers/serve.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The `tsbuild` command as users run it (bin/tsbuild, which starts Node without parsing NODE_EXTRA_CA_CERTS).
const BIN = path.join(PROJECT_ROOT, 'bin/tsbuild');
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
    for (let j = 0; j < FILE_BYTES; j += 4) chunk.writeUInt32LE((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), j);
    writeFileSync(path.join(sub, `f${i}.txt`), chunk);
  }
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /app\nRUN find /app | wc -l > /count\n');
}

// Every client runs asynchronously: the counting proxy and the server's
// stderr pipe live in this process's event loop, which a spawnSync would
// stop (a client talking through the proxy then waits for ever, and a
// server whose stderr pipe fills up blocks).
function run(argv: string[], env: NodeJS.ProcessEnv, command = [BIN]): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const c = spawn(command[0]!, [...command.slice(1), ...argv], { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8192)));
    c.on('error', reject);
    c.on('close', (code) => {
      if (code === 0) resolve(Number(process.hrtime.bigint() - started) / 1e6);
      else reject(new Error(`tsbuild ${argv.join(' ')} failed (${code}):\n${err}`));
    });
  });
}

async function startServer(root: string, sock: string): Promise<{ child: ChildProcess; log(): string }> {
  const child = spawn(BIN, ['serve', '--addr', `unix://${sock}`], { env: { ...process.env, TSBUILD_ROOT: root }, stdio: ['ignore', 'ignore', 'pipe'] });
  // Read for the server's whole life: a full stderr pipe would stop it.
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-16384)));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (/serving on/.test(log)) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(check);
      reject(new Error(`serve exited ${code}:\n${log}`));
    });
  });
  return { child, log: () => log };
}

type Series = { name: string; times: number[]; run: () => Promise<number> };

/** One run of each series in turn, RUNS times: a change of machine load hits them all alike. */
async function alternate(series: Series[]): Promise<void> {
  for (let i = 0; i < RUNS; i++) for (const s of series) s.times.push(await s.run());
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
  const sshSkip = sshdSkipReason();
  const sshd = sshSkip ? undefined : await startSshd(mkdtempSync(path.join(work, 'sshd-')));
  const home = mkdtempSync(path.join(work, 'home-'));
  // `serve --stdio` hands the connection to the server on this socket, as on a real build host.
  const ssh = sshd ? ['--host', `ssh://root@127.0.0.1:${sshd.port}`, '--ssh-identity', sshd.clientKey, '--ssh-accept-new-host-key', '--ssh-command', `${BIN} serve --stdio --addr unix://${sock}`] : [];
  const sshEnv = { ...clientEnv, HOME: home, SSH_AUTH_SOCK: '' };
  console.log(`project: ${FILES} files, ${((FILES * FILE_BYTES) / 1024 / 1024).toFixed(1)} MB; ${RUNS} runs each; ${os.availableParallelism()} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);
  try {
    const noop: Series[] = [
      // Local builds answer an identical no-op from the store's memo; the full path (the whole solve) is the one issue 11's target compares with.
      { name: 'no-op rebuild, local (memo)', times: [], run: () => run(build, { TSBUILD_ROOT: localRoot }) },
      { name: 'no-op rebuild, local, full (TSBUILD_NO_MEMO=1)', times: [], run: () => run(build, { TSBUILD_ROOT: localRoot, TSBUILD_NO_MEMO: '1' }) },
      { name: 'no-op rebuild, server (unix socket)', times: [], run: () => run(['--host', `unix://${sock}`, ...build], clientEnv) },
      ...(sshd ? [{ name: 'no-op rebuild, server (ssh://127.0.0.1)', times: [], run: () => run([...ssh, ...build], sshEnv) }] : []),
      // What any SSH session to this sshd costs (OpenSSH's client running `true`): the floor of the row above.
      ...(sshd && existsSync('/usr/bin/ssh') ? [{ name: '  for reference: ssh 127.0.0.1 true', times: [], run: () => run(['-q', '-i', sshd.clientKey, '-p', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${path.join(home, 'known_hosts')}`, 'root@127.0.0.1', 'true'], {}, ['/usr/bin/ssh']) }] : []),
    ];
    // Warm-up: the first build and one more (the checksum caches' racy-timestamp rule).
    for (let i = 0; i < 2; i++) for (const s of noop) await s.run();
    await alternate(noop);

    // One file changed: what the client sends, through the counting proxy.
    const sentBytes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      writeFileSync(path.join(ctx, 'src/d7/f7.txt'), Buffer.alloc(EDITED_BYTES, i + 1));
      const before = proxy.sent();
      await run(['--host', `unix://${path.join(work, 'counting.sock')}`, ...build], clientEnv);
      sentBytes.push(proxy.sent() - before);
    }
    // And a no-op through the proxy: the metadata alone.
    const noopBefore = proxy.sent();
    await run(['--host', `unix://${path.join(work, 'counting.sock')}`, ...build], clientEnv);
    const noopBytes = proxy.sent() - noopBefore;

    // Four distinct builds: four local ones in a row against four clients at once through the server.
    const small = (i: number, tag: string) => {
      const dir = path.join(work, `small-${tag}-${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox:latest\nRUN i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; echo ${tag}-${i} > /out\n`);
      return ['build', '--no-cache', '--progress=plain', dir];
    };
    const four: Series[] = [
      { name: '4 builds, sequential, local', times: [], run: async () => {
        const t = Date.now();
        for (let i = 0; i < 4; i++) await run(small(i, 'seq'), { TSBUILD_ROOT: localRoot });
        return Date.now() - t;
      } },
      { name: '4 clients at once, server', times: [], run: async () => {
        const t = Date.now();
        await Promise.all([0, 1, 2, 3].map((i) => run(['--host', `unix://${sock}`, ...small(i, 'par')], clientEnv)));
        return Date.now() - t;
      } },
    ];
    await alternate(four);

    const row = (name: string, ms: number, extra = '') => console.log(`${name.padEnd(48)} ${ms.toFixed(0).padStart(7)} ms${extra}`);
    const [memoLocal, fullLocal] = [noop[0]!, noop[1]!];
    const pct = (s: Series, of: Series) => `${((median(s.times) / median(of.times)) * 100).toFixed(0)}%`;
    console.log('');
    // The target (<= 50%) is the local server's against the full local path; over SSH the floor is the SSH session itself (the reference row).
    const target = (s: Series) => (s === noop[2] ? '; target <= 50% of full' : '');
    for (const s of noop) {
      const local = s === memoLocal || s === fullLocal || s.name.startsWith(' ');
      row(s.name, median(s.times), local ? '' : `   (${pct(s, memoLocal)} of local with memo, ${pct(s, fullLocal)} of full${target(s)})`);
    }
    if (sshSkip) console.log(`${'no-op rebuild, server (ssh://)'.padEnd(48)} skipped: ${sshSkip}`);
    console.log(`${'no-op rebuild: bytes sent'.padEnd(48)} ${String(noopBytes).padStart(7)} B`);
    console.log(`${'one-file change: bytes sent'.padEnd(48)} ${median(sentBytes).toFixed(0).padStart(7)} B    (file ${EDITED_BYTES} B; target < ${2 * EDITED_BYTES + 1024 * 1024} B)`);
    row(four[0]!.name, median(four[0]!.times));
    row(four[1]!.name, median(four[1]!.times), `   (${((median(four[1]!.times) / median(four[0]!.times)) * 100).toFixed(0)}% of sequential; target <= 100%)`);
    console.log(`runs (ms): ${[...noop, ...four].map((s) => `${s.name}: ${s.times.map((t) => t.toFixed(0)).join(' ')}`).join('; ')}`);
    console.log(`load average now ${os.loadavg()[0]!.toFixed(1)}`);
  } finally {
    sshd?.stop();
    proxy.close();
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
