// End to end: the confinement of RUN, through `tsbuild build`: its own
// network (no way to the host's 127.0.0.1), Docker's device rules and the
// seccomp profile (native and runc). Probes print what the kernel answered;
// container-confinement.test.ts checks the same for `tsbuild run`.
import { createServer, type Server } from 'node:net';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { findOciRuntime } from '../runner-native/index.js';
import { slirpInstalled } from '../runner-native/slirp.js';
import { tsbuild } from './helpers/cli.js';
import { runIf } from './helpers/skip.js';
import { confinementSuite, DEVICE_PROBE, probeResults, REFUSED_BY_DEFAULT, SECCOMP_PROBES } from './helpers/confinement-probe.js';
import { build } from './e2e-image-helpers.js';

const { suite, it, contextWithProbe } = confinementSuite('e2e RUN confinement');
const { scratchDir } = suite;

async function buildLocal(dockerfile: string, args: string[] = [], files: Record<string, string> = {}): Promise<{ out: string; log: string }> {
  const ctx = await contextWithProbe(files);
  const out = path.join(await scratchDir('out'), 'rootfs');
  const r = await build(suite.store.root, ctx, dockerfile, ['-o', `type=local,dest=${out}`, ...args]);
  return { out, log: r.stderr };
}
const text = async (root: string, p: string) => (await readFile(path.join(root, p), 'utf8')).trim();

/** A server on the host's loopback that counts its connections. */
async function loopbackServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((s) => { count++; s.end('host-only\n'); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, connections: () => count };
}

it('RUN has its own interface with a default route and cannot reach a server on the host\'s 127.0.0.1', async (t) => {
  const { server, port, connections } = await loopbackServer();
  try {
    // 10.0.2.2 is slirp4netns' gateway: with the host loopback enabled it would lead to the host's 127.0.0.1
    const { out } = await buildLocal(`FROM busybox:latest
RUN ls /sys/class/net > /ifaces; ip route > /routes; \\
    (wget -T 3 -qO- http://127.0.0.1:${port}/ || echo unreachable) > /lo 2>&1; \\
    (wget -T 3 -qO- http://10.0.2.2:${port}/ || echo unreachable) > /gateway 2>&1
`);
    t.is(connections(), 0, 'the host server saw no connection');
    t.regex(await text(out, 'lo'), /unreachable/);
    t.regex(await text(out, 'gateway'), /unreachable/);
    const ifaces = (await text(out, 'ifaces')).split('\n');
    t.true(ifaces.includes('lo'));
    if (slirpInstalled()) {
      t.true(ifaces.includes('tap0'), ifaces.join(' '));
      t.regex(await text(out, 'routes'), /^default via 10\.0\.2\.2 dev tap0/m);
    }
  } finally {
    server.close();
  }
});

it('--network=host (build flag and RUN flag) is refused without --allow network.host', async (t) => {
  const ctx = await suite.context({ Dockerfile: 'FROM busybox:latest\nRUN --network=host true\n' });
  const r = await tsbuild(['build', '--progress=plain', ctx], { root: suite.store.root });
  t.not(r.code, 0);
  t.regex(r.stderr, /RUN --network=host needs --allow network\.host/);
  const flag = await tsbuild(['build', '--progress=plain', '--network=host', ctx], { root: suite.store.root });
  t.not(flag.code, 0);
  t.regex(flag.stderr, /--network=host needs --allow network\.host/);
});

it('build --network=none gives every RUN loopback only', async (t) => {
  const { out } = await buildLocal('FROM busybox:latest\nRUN ls /sys/class/net > /ifaces\n', ['--network=none']);
  t.is(await text(out, 'ifaces'), 'lo');
});

it('RUN: a mknod-ed /dev/kmsg is refused (EPERM); null, zero, urandom, ptmx work', async (t) => {
  const { out } = await buildLocal(`FROM busybox:latest\nRUN (${DEVICE_PROBE}) > /devices\n`);
  const result = await text(out, 'devices');
  t.regex(result, /can't create \/dev\/km: Operation not permitted\nkm-refused/);
  t.regex(result, /1\n1\nstandard-ok/);
});

it('RUN: the default seccomp profile refuses unshare, keyctl, add_key, bpf, io_uring, mount; --security=insecure lifts it', async (t) => {
  const { out } = await buildLocal(`FROM busybox:latest
COPY probe /probe
RUN /probe ${SECCOMP_PROBES} > /confined; (unshare -U true; mount -t tmpfs none /mnt) > /unshare 2>&1 || true
RUN --security=insecure /probe add_key clone_newuser > /insecure; \
    mknod /dev/lc c 10 237 && (exec 3<> /dev/lc) && echo opened > /insecure-device
`, ['--allow', 'security.insecure']);
  t.is(await text(out, 'insecure-device'), 'opened', 'an insecure RUN may use every device');
  t.deepEqual(probeResults(await text(out, 'confined')), REFUSED_BY_DEFAULT);
  t.regex(await text(out, 'unshare'), /unshare.*Operation not permitted[\s\S]*mount.*(Operation not permitted|Permission denied)/i);
  t.deepEqual(probeResults(await text(out, 'insecure')), { add_key: 'ok', clone_newuser: 'ok' });
});

const runc = findOciRuntime('runc');
runIf(runc ? undefined : 'needs runc (Debian package runc)', it)('RUN --runtime runc gets the same seccomp profile and device rules through the OCI spec', async (t) => {
  const { out } = await buildLocal(`FROM busybox:latest
COPY probe /probe
RUN /probe add_key clone_newuser inet > /confined; (${DEVICE_PROBE}) > /devices
`, ['--runtime', 'runc']);
  t.deepEqual(probeResults(await text(out, 'confined')), { add_key: 'EPERM', clone_newuser: 'EPERM', inet: 'ok' });
  t.regex(await text(out, 'devices'), /Operation not permitted\nkm-refused/);
});
