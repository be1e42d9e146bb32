// More of `docker run` through the CLI: a non-root web server on port 80
// reached through -p, capabilities, --privileged, --security-opt,
// --sysctl, --ulimit, --shm-size, --add-host, --dns, -P and port ranges,
// --cidfile, --platform, --pull (missing pulls from a registry), --init,
// UDP ports.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './helpers/temp-dirs.js';
import { freePort, registrySkipReason, startRegistry } from './helpers/registry-server.js';
import { containerSuite } from './container-helpers.js';

const s = await containerSuite('tsbuild-flags-');

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function getEventually(port: number): Promise<string> {
  for (let i = 0; ; i++) {
    try { return await get(port); } catch (err) { if (i > 50) throw err; await sleep(100); }
  }
}

s.e2e('a non-root USER serves on port 80 inside its network namespace, reached through -p', async (t) => {
  const ctx = await tempDir('tsbuild-flags-web-');
  await mkdir(path.join(ctx, 'www'), { recursive: true });
  await writeFile(path.join(ctx, 'www/index.html'), 'served by nobody\n');
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY www/ /var/www/\nUSER nobody\nEXPOSE 80\nCMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]\n');
  t.is((await s.cli('build', '-q', '-t', 'web-nobody', ctx)).code, 0);
  const port = await freePort();
  const r = await s.cli('run', '-d', '--name', 'web', '-p', `${port}:80`, 'web-nobody');
  t.is(r.code, 0, r.stderr);
  t.is(await getEventually(port), 'served by nobody\n');
  t.is((await s.cli('exec', 'web', 'sh', '-c', 'id -un; cat /proc/sys/net/ipv4/ip_unprivileged_port_start')).stdout, 'nobody\n0\n');
  t.is(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'), readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'), 'the host value is untouched');
  // -P publishes the exposed port on a free host port
  const all = await s.cli('run', '-d', '-P', 'web-nobody');
  const published = (await s.cli('port', all.stdout.trim(), '80')).stdout.trim();
  t.regex(published, /^0\.0\.0\.0:\d+$/);
  t.is(await getEventually(Number(published.split(':')[1])), 'served by nobody\n');
  await s.cli('rm', '-f', 'web', all.stdout.trim());
});

s.e2e('capabilities, no-new-privileges, sysctl, ulimit, shm-size, add-host, dns', async (t) => {
  const r = await s.cli('run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', '--security-opt', 'no-new-privileges', '--ulimit', 'nofile=100:200',
    '--shm-size', '2m', '--sysctl', 'net.ipv4.ip_default_ttl=42', '--add-host', 'db:10.0.0.5', '--dns', '9.9.9.9', 'busybox', 'sh', '-c',
    'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2; cat /proc/sys/net/ipv4/ip_default_ttl; grep -E "[[:space:]]db$" /etc/hosts; cat /etc/resolv.conf');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'CapEff:\t0000000000001000\nNoNewPrivs:\t1\n100\n200\n2048\n42\n10.0.0.5\tdb\nnameserver 9.9.9.9\n');
  const priv = await s.cli('run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status; grep " /sys " /proc/mounts | cut -d" " -f4 | cut -d, -f1');
  const [capLine, sysMode] = priv.stdout.split('\n');
  const mask = BigInt(`0x${capLine!.split('\t')[1]}`);
  t.true((mask & (1n << 21n)) !== 0n, '--privileged grants CAP_SYS_ADMIN (every capability tsbuild holds)');
  t.is(sysMode, 'rw', '/sys is writable');
  const badSysctl = await s.cli('run', '--rm', '--sysctl', 'kernel.hostname=x', 'busybox', 'true');
  t.is(badSysctl.code, 125);
  t.regex(badSysctl.stderr, /not namespaced/);
});

s.e2e('-p ranges, --cidfile, --platform, --pull never', async (t) => {
  const [a, b] = [await freePort(), await freePort()];
  const range = a + 1 === b ? `${a}-${b}:8000-8001` : `${a}:8000`;
  const r = await s.cli('run', '-d', '--name', 'ranged', '-p', range, 'busybox', 'sleep', '300');
  t.is(r.code, 0, r.stderr);
  t.regex((await s.cli('port', 'ranged')).stdout, new RegExp(`^8000/tcp -> 0\\.0\\.0\\.0:${a}\\n`));
  const cid = path.join(await tempDir('tsbuild-cid-'), 'cid');
  const c = await s.cli('run', '-d', '--cidfile', cid, 'busybox', 'true');
  t.is(readFileSync(cid, 'utf8'), c.stdout.trim());
  const again = await s.cli('run', '-d', '--cidfile', cid, 'busybox', 'true');
  t.is(again.code, 125);
  t.regex(again.stderr, /container ID file found/);
  const arch = process.arch === 'x64' ? 'arm64' : 'amd64';
  const plat = await s.cli('run', '--rm', '--platform', `linux/${arch}`, 'busybox', 'true');
  t.is(plat.code, 125);
  t.regex(plat.stderr, /^ERROR: image platform linux\/\w+ cannot run on this linux\/\w+ host \(no emulation\)\n$/);
  const never = await s.cli('run', '--rm', '--pull', 'never', 'not-here:1', 'true');
  t.is(never.code, 125);
  t.is(never.stderr, 'ERROR: No such image: not-here:1\n');
});

const noRegistry = registrySkipReason();
(noRegistry ? (title: string, _fn: unknown) => test.skip(`${title} (skipped: ${noRegistry})`, () => {}) : s.e2e)(
  'run of an image the store lacks pulls it (--pull missing, the default)', async (t) => {
    const registry = await startRegistry();
    try {
      const ref = `${registry.host}/tools/busybox:1`;
      t.is((await s.cli('tag', 'busybox', ref)).code, 0);
      t.is((await s.cli('push', ref)).code, 0);
      t.is((await s.cli('rmi', ref)).code, 0);
      const r = await s.cli('run', '--rm', ref, 'echo', 'pulled and ran');
      t.is(r.code, 0, r.stderr);
      t.is(r.stdout, 'pulled and ran\n');
      t.regex(r.stderr, new RegExp(`Unable to find image '${ref}' locally`));
      t.is((await s.cli('images', '-q', ref)).code, 0);
    } finally {
      await registry.stop();
    }
  });

s.e2e('--init: a reaper is PID 1, the command its child; stop reaches it at once', async (t) => {
  const r = await s.cli('run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/comm; echo $$; exit 5');
  t.is(r.code, 5);
  t.is(r.stdout, 'tsbuild-sandbox\n2\n');
  await s.cli('run', '-d', '--name', 'with-init', '--init', 'busybox', 'sleep', '300');
  // plain `sleep` as PID 1 would ignore SIGTERM and take the whole timeout; under --init it dies of it
  t.is((await s.cli('stop', '-t', '30', 'with-init')).code, 0);
  t.is((await s.cli('inspect', '-f', '{{.State.ExitCode}}', 'with-init')).stdout, '143\n');
});

// A UDP echo server: busybox has none, so the test compiles a static one (gcc and libc6-dev are test deps).
const UDP_ECHO = `#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
  if (argc < 2 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) return 1;
  for (;;) {
    char buf[2048]; struct sockaddr_in from; socklen_t len = sizeof(from);
    ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
    if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
  }
}
`;

s.e2e('-p HOST:CONTAINER/udp: datagrams reach a UDP server in the container and its replies come back', async (t) => {
  const dir = await tempDir('tsbuild-udp-');
  await writeFile(path.join(dir, 'echo.c'), UDP_ECHO);
  const cc = spawnSync('cc', ['-static', '-O2', '-o', path.join(dir, 'udpecho'), path.join(dir, 'echo.c')], { encoding: 'utf8' });
  if (cc.status !== 0) {
    t.log(`cannot build a static test program (cc -static: ${cc.stderr.trim()}); skipped`);
    t.pass();
    return;
  }
  const port = await freePort();
  const r = await s.cli('run', '-d', '--name', 'udp', '-p', `127.0.0.1:${port}:9999/udp`, '-v', `${path.join(dir, 'udpecho')}:/udpecho:ro`, 'busybox', '/udpecho', '9999');
  t.is(r.code, 0, r.stderr);
  t.is((await s.cli('port', 'udp')).stdout, `9999/udp -> 127.0.0.1:${port}\n`);
  const client = dgram.createSocket('udp4');
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      client.on('message', (m) => resolve(m.toString()));
      // the first datagrams may arrive before the forwarder is up: UDP drops them, so send a few
      const timer = setInterval(() => client.send('ping over udp', port, '127.0.0.1'), 200);
      setTimeout(() => { clearInterval(timer); reject(new Error('no UDP reply')); }, 5000);
      client.once('message', () => clearInterval(timer));
    });
    t.is(reply, 'ping over udp');
  } finally {
    client.close();
    await s.cli('rm', '-f', 'udp');
  }
});
