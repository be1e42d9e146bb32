// `tsbuild exec` into a detached container: same namespaces and cgroup as
// its init, docker's user/workdir/env rules, exit codes, and -it on a pty.
import { readFileSync } from 'node:fs';
import { tsbuildUnderPty } from './helpers/cli.js';
import { containerSuite } from './container-helpers.js';

const s = await containerSuite('tsbuild-exec-');

s.e2e('exec joins the container: its pid namespace, hostname, files and cgroup', async (t) => {
  const r = await s.cli('run', '-d', '--name', 'target', 'busybox', 'sh', '-c', 'echo hello > /tmp/mark; exec sleep 300');
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const init = s.stateOf(id).init!.pid;
  const e = await s.cli('exec', 'target', 'sh', '-c', 'echo "$(cat /proc/1/cmdline | tr "\\0" " ")|$(hostname)|$(cat /tmp/mark)|$(cat /proc/self/cgroup | grep -c ctr-)"; exit 4');
  t.is(e.code, 4, e.stderr);
  t.is(e.stdout, `sleep 300 |${id.slice(0, 12)}|hello|${readFileSync(`/proc/${init}/cgroup`, 'utf8').split('\n').filter((l) => l.includes('ctr-')).length}\n`);
});

s.e2e('exec -u -w -e: user from the image, working dir, environment; a non-root user holds no capabilities', async (t) => {
  const e = await s.cli('exec', '-u', 'nobody', '-w', '/tmp', '-e', 'GREETING=hi', 'target', 'sh', '-c', 'id -u; pwd; echo $GREETING; grep CapEff /proc/self/status');
  t.is(e.code, 0, e.stderr);
  t.is(e.stdout, '65534\n/tmp\nhi\nCapEff:\t0000000000000000\n');
  const root = await s.cli('exec', 'target', 'sh', '-c', 'grep CapEff /proc/self/status');
  t.is(root.stdout, 'CapEff:\t00000000a80425fb\n', "root gets docker's default set");
});

s.e2e('exec: a missing command is 127, stdin with -i, a stopped container is refused', async (t) => {
  const missing = await s.cli('exec', 'target', 'no-such-command');
  t.is(missing.code, 127);
  t.regex(missing.stderr, /executable file not found/);
  const { tsbuild } = await import('./helpers/cli.js');
  const piped = await tsbuild(['exec', '-i', 'target', 'sh', '-c', 'tr a-z A-Z'], { root: s.root, input: 'shout\n' });
  t.is(piped.stdout, 'SHOUT\n');
  await s.cli('stop', '-t', '0', 'target');
  const stopped = await s.cli('exec', 'target', 'true');
  t.is(stopped.code, 125);
  t.regex(stopped.stderr, /^ERROR: container target is not running\n$/);
});

s.e2e('exec -it: a shell on a pty inside a running container', async (t) => {
  await s.cli('run', '-d', '--name', 'box', 'busybox', 'sleep', '300');
  const r = await tsbuildUnderPty(s.root, ['exec', '-it', 'box', 'sh'], ['echo "in $(tty) as $(id -un)"; exit 6\r']);
  t.is(r.code, 6, r.stdout);
  t.regex(r.stdout, /in \/dev\/pts\/\d+ as root/);
});
