// Rootless network, as a real unprivileged user: RUN and `tsbuild run` get
// outbound TCP through slirp4netns. The test's own HTTP server listens on the
// host's 127.0.0.1 and is reached at 10.0.2.2 when TSBUILD_HOST_LOOPBACK=1
// lets slirp4netns map it; by default the host's loopback stays out of reach.
import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { busyboxAvailable } from '../fixtures/base-images/busybox-rootfs.js';
import { tempDir } from './helpers/cli.js';
import { createTestUser, rootlessSkipReason, type TestUser } from './helpers/unprivileged-user.js';

function tunSkipReason(): string | undefined {
  if (!existsSync('/usr/bin/slirp4netns')) return 'needs /usr/bin/slirp4netns (Debian package slirp4netns)';
  if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  const mode = statSync('/dev/net/tun').mode & 0o777;
  if ((mode & 0o006) !== 0o006) return `/dev/net/tun is mode 0${mode.toString(8)}: a user cannot open it (scripts/install-system-deps.sh sets Debian's 0666)`;
  return undefined;
}

const skip = rootlessSkipReason() ?? (busyboxAvailable() ? undefined : 'needs /bin/busybox (Debian package busybox-static)') ?? tunSkipReason();
const it = skip ? test.skip : test.serial;
if (skip) test.skip(`rootless network (skipped: ${skip})`, () => {});

let user: TestUser;
let ctx: string;
let server: Server;
let port: number;
const LOOPBACK = { TSBUILD_HOST_LOOPBACK: '1' };

test.before(async () => {
  if (skip) return;
  user = await createTestUser();
  const work = await tempDir('tsbuild-rootless-net-');
  await chmod(work, 0o755);
  ctx = path.join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nARG PORT\nRUN wget -q -O /got http://10.0.2.2:$PORT/ && cat /got\n');
  await user.loadBusybox();
  server = createServer((_req, res) => res.end('hello-from-host\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

test.after.always(() => {
  server?.close();
  user?.remove();
});

it('a rootless RUN reaches a TCP server on the host (10.0.2.2 → 127.0.0.1 with TSBUILD_HOST_LOOPBACK=1)', async (t) => {
  const b = await user.tsbuild(['build', '--no-cache', '-t', 'net:v1', '--build-arg', `PORT=${port}`, ctx], { env: LOOPBACK });
  t.is(b.code, 0, b.stderr);
  t.notRegex(b.stderr, /loopback only/);
  const r = await user.tsbuild(['run', '--rm', 'net:v1', 'cat', '/got']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'hello-from-host\n');
});

it('by default the host\'s loopback is out of a rootless RUN\'s reach', async (t) => {
  const b = await user.tsbuild(['build', '--no-cache', '--build-arg', `PORT=${port}`, ctx]);
  t.is(b.code, 1);
  t.regex(b.stderr, /did not complete successfully/);
});

it('rootless `run` has outbound network through slirp4netns', async (t) => {
  // slirp4netns is attached once the container's process runs: the first tries may find no route yet.
  const fetch = `for i in $(seq 50); do wget -q -O /tmp/got http://10.0.2.2:${port}/ 2>/dev/null && break; sleep 0.1; done; cat /tmp/got`;
  const r = await user.tsbuild(['run', '--rm', 'busybox', 'sh', '-c', fetch], { env: LOOPBACK });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'hello-from-host\n');
});
