// Container lifecycle and inspection through the CLI: inspect (docker's
// JSON shape), start/restart/kill/wait, port, top, stats, rename, prune,
// --restart policies, and cp in both directions (never through a symlink
// out of the container).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './helpers/temp-dirs.js';
import { containerSuite } from './container-helpers.js';

const s = await containerSuite('tsbuild-life-');

s.e2e('inspect: docker shape for a container; images still inspect; --type and unknown names', async (t) => {
  const r = await s.cli('run', '-d', '--name', 'svc', '-l', 'tier=web', '-p', '127.0.0.1::80', '--restart', 'unless-stopped', 'busybox', 'httpd', '-f', '-p', '80');
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const [info] = JSON.parse((await s.cli('inspect', 'svc')).stdout) as Record<string, any>[];
  t.is(info!.Id, id);
  t.is(info!.Name, '/svc');
  t.is(info!.Path, 'httpd');
  t.deepEqual(info!.Args, ['-f', '-p', '80']);
  t.like(info!.State, { Status: 'running', Running: true, ExitCode: 0, Pid: s.stateOf(id).init!.pid });
  t.like(info!.Config, { Image: 'busybox', Tty: false, Labels: { tier: 'web' }, Cmd: ['httpd', '-f', '-p', '80'] });
  t.deepEqual(info!.HostConfig.RestartPolicy, { Name: 'unless-stopped', MaximumRetryCount: 0 });
  const bound = info!.NetworkSettings.Ports['80/tcp'] as { HostIp: string; HostPort: string }[];
  t.is(bound[0]!.HostIp, '127.0.0.1');
  t.regex(bound[0]!.HostPort, /^\d+$/);
  t.is((await s.cli('port', 'svc')).stdout, `80/tcp -> 127.0.0.1:${bound[0]!.HostPort}\n`);
  t.is((await s.cli('port', 'svc', '80')).stdout, `127.0.0.1:${bound[0]!.HostPort}\n`);
  t.is((await s.cli('inspect', '-f', '{{.State.Status}} {{index .Config.Labels "tier"}}', 'svc')).stdout, 'running web\n');
  const image = await s.cli('inspect', '--type', 'image', '-f', '{{.Id}}', 'busybox');
  t.regex(image.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const missing = await s.cli('inspect', 'nope');
  t.is(missing.code, 1);
  t.is(missing.stderr, 'Error: No such object: nope\n');
  const badTemplate = await s.cli('inspect', '-f', '{{.State.Status', 'svc');
  t.is(badTemplate.code, 1);
  t.notRegex(badTemplate.stdout, /State/);
});

s.e2e('top and stats --no-stream read the container processes and cgroup', async (t) => {
  const top = await s.cli('top', 'svc');
  t.regex(top.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n.*httpd -f -p 80\n$/);
  const stats = await s.cli('stats', '--no-stream', 'svc');
  t.regex(stats.stdout, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS\n[0-9a-f]{12}\s+svc\s+\d+\.\d\d%\s+[\d.]+[KMG]?i?B \/ [\d.]+[KMGT]i?B\s+\d+\.\d\d%\s+\S+ \/ \S+\s+\S+ \/ \S+\s+1\n$/);
});

s.e2e('kill -s, wait, start again (keeping the writable layer), restart, rename, container prune', async (t) => {
  const r = await s.cli('run', '-d', '--name', 'job', 'busybox', 'sh', '-c', 'trap "exit 42" USR1; echo x >> /runs; while :; do sleep 0.1; done');
  const id = r.stdout.trim();
  t.is((await s.cli('kill', '-s', 'USR1', 'job')).code, 0);
  t.is((await s.cli('wait', 'job')).stdout, '42\n');
  t.is((await s.cli('start', 'job')).stdout, 'job\n');
  t.is(s.stateOf(id).status, 'running');
  t.is((await s.cli('exec', 'job', 'cat', '/runs')).stdout, 'x\nx\n', 'the second start sees the first run\'s files');
  t.is((await s.cli('restart', '-t', '0', 'job')).code, 0);
  t.is((await s.cli('exec', 'job', 'cat', '/runs')).stdout, 'x\nx\nx\n');
  t.is((await s.cli('rename', 'job', 'job2')).code, 0);
  t.is((await s.cli('inspect', '-f', '{{.Name}}', id)).stdout, '/job2\n');
  t.is((await s.cli('kill', 'job2')).code, 0);
  t.is((await s.cli('wait', 'job2')).stdout, '137\n');
  const notRunning = await s.cli('kill', 'job2');
  t.is(notRunning.code, 1);
  t.regex(notRunning.stderr, /is not running/);
  const prune = await s.cli('container', 'prune', '-f');
  t.regex(prune.stdout, new RegExp(`^Deleted Containers:\\n${id}\\n\\nTotal reclaimed space: `));
  t.false(existsSync(path.join(s.root, 'containers', id)));
  t.is((await s.cli('container', 'ls', '-q')).stdout.trim().split('\n').length, 1, 'the running svc is kept');
});

s.e2e('--restart on-failure:2 restarts exactly twice; always stops for good on stop', async (t) => {
  const r = await s.cli('run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 3');
  t.is(r.code, 0, r.stderr);
  t.is((await s.cli('wait', 'flaky')).stdout, '3\n');
  t.is((await s.cli('logs', 'flaky')).stdout, 'run\nrun\nrun\n');
  t.is((await s.cli('inspect', '-f', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}', 'flaky')).stdout, '2 exited 3\n');

  await s.cli('run', '-d', '--name', 'forever', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2; exit 0');
  const count = await s.eventually(async () => Number((await s.cli('inspect', '-f', '{{.RestartCount}}', 'forever')).stdout), (n) => n >= 2);
  t.true(count >= 2, 'exit 0 is restarted under always');
  t.is((await s.cli('stop', '-t', '1', 'forever')).code, 0);
  const after = (await s.cli('inspect', '-f', '{{.RestartCount}}', 'forever')).stdout;
  await new Promise((r2) => setTimeout(r2, 1500));
  t.is((await s.cli('inspect', '-f', '{{.RestartCount}} {{.State.Running}}', 'forever')).stdout, `${after.trim()} false\n`);
  t.is((await s.cli('run', '--rm', '--restart', 'always', 'busybox', 'true')).code, 125, '--rm and --restart conflict');
});

s.e2e('cp both ways, running and stopped; a symlink in the container never leads cp outside it', async (t) => {
  const host = await tempDir('tsbuild-cp-');
  await writeFile(path.join(host, 'note.txt'), 'from the host\n');
  await mkdir(path.join(host, 'tree/sub'), { recursive: true });
  await writeFile(path.join(host, 'tree/sub/deep.txt'), 'deep\n');
  const outside = await tempDir('tsbuild-cp-outside-');
  await s.cli('run', '-d', '--name', 'files', 'busybox', 'sh', '-c', `mkdir -p /data; ln -s ${outside} /data/escape; ln -s ../../../../../${outside} /data/climb; exec sleep 300`);
  t.is((await s.cli('cp', path.join(host, 'note.txt'), 'files:/data/')).code, 0);
  t.is((await s.cli('cp', path.join(host, 'tree'), 'files:/data/tree')).code, 0);
  t.is((await s.cli('exec', 'files', 'cat', '/data/note.txt', '/data/tree/sub/deep.txt')).stdout, 'from the host\ndeep\n');
  // the symlinks resolve inside the container's root: the files land there, not on the host
  t.is((await s.cli('cp', path.join(host, 'note.txt'), 'files:/data/escape/planted')).code, 0);
  t.is((await s.cli('cp', path.join(host, 'note.txt'), 'files:/data/climb/planted2')).code, 0);
  t.false(existsSync(path.join(outside, 'planted')), 'nothing written outside the container');
  t.false(existsSync(path.join(outside, 'planted2')));
  t.is((await s.cli('exec', 'files', 'cat', `${outside}/planted`, `${outside}/planted2`)).stdout, 'from the host\nfrom the host\n');

  const back = path.join(host, 'back');
  t.is((await s.cli('cp', 'files:/data/tree', back)).code, 0);
  t.is(await readFile(path.join(back, 'sub/deep.txt'), 'utf8'), 'deep\n');
  await s.cli('stop', '-t', '0', 'files');
  t.is((await s.cli('cp', 'files:/data/note.txt', path.join(host, 'stopped.txt'))).code, 0, 'a stopped container is copied from too');
  t.is(readFileSync(path.join(host, 'stopped.txt'), 'utf8'), 'from the host\n');
  const missing = await s.cli('cp', 'files:/no/such', host);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /Could not find the file \/no\/such in container files/);
});
