// End to end: what a RUN step sees of its sandbox, through the real
// `tsbuild build`. Each RUN writes what it observed into a file of the image;
// the test reads the files back from `-o type=local`.
import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT, tsbuild } from './helpers/cli.js';
import { e2eRunSuite } from './e2e-step-run-helpers.js';
import { build } from './e2e-image-helpers.js';
import { DOCKER_DEFAULT_CAPS, grantableCapabilities } from '../runner-native/index.js';
import { assertCapabilitiesGrantable, capabilityNumber as capNo } from '../runner-native/capabilities.js';

const suite = e2eRunSuite('e2e RUN sandbox');
const { skip, it, scratchDir, context } = suite;

async function buildLocal(dockerfile: string, args: string[] = []): Promise<string> {
  const ctx = await context({ 'ctx.txt': 'x' });
  const out = path.join(await scratchDir('out'), 'rootfs');
  await build(suite.store.root, ctx, dockerfile, ['-o', `type=local,dest=${out}`, ...args]);
  return out;
}
const text = async (root: string, p: string) => (await readFile(path.join(root, p), 'utf8')).trim();

// Docker's default set (moby's oci/caps/defaults.go) as /proc shows it.
const DOCKER_CAPEFF = '00000000a80425fb';

it('RUN is PID 1 with the sandbox hostname, Docker\'s capabilities, no host paths, no mount, read-only /proc/sys', async (t) => {
  const out = await buildLocal(`FROM busybox:latest
RUN echo $$ > /pid; hostname > /hostname.txt; \\
    if [ -e ${PROJECT_ROOT} ]; then echo visible; else echo hidden; fi > /checkout; \\
    grep CapEff /proc/self/status | cut -f2 > /capeff; \\
    mkdir -p /mnt; mount -t tmpfs none /mnt 2> /mount.err && echo mounted > /mount || echo refused > /mount; \\
    (echo evil > /proc/sys/kernel/hostname) 2> /procsys.err && echo written > /procsys || echo refused > /procsys; \\
    ls / > /rootlist
`);
  t.is(await text(out, 'pid'), '1');
  t.is(await text(out, 'hostname.txt'), 'buildkitsandbox');
  t.is(await text(out, 'checkout'), 'hidden', `${PROJECT_ROOT} must not be visible inside RUN`);
  t.is(await text(out, 'capeff'), DOCKER_CAPEFF);
  t.is(await text(out, 'mount'), 'refused');
  t.regex(await text(out, 'mount.err'), /permission denied|not permitted/i);
  t.is(await text(out, 'procsys'), 'refused');
  t.regex(await text(out, 'procsys.err'), /read-only/i);
  // The root is the image's, not the host's: no /work, no /root of the host's files.
  t.false((await text(out, 'rootlist')).split('\n').includes('work'));
});

it('RUN --network=none sees only lo; the default network is a namespace of its own; host needs --allow network.host', async (t) => {
  const out = await buildLocal(`FROM busybox:latest
RUN --network=none ls /sys/class/net > /net-none; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /netdev-none
RUN ls /sys/class/net > /net-default
RUN --network=host ls /sys/class/net > /net-host
`, ['--allow', 'network.host']);
  t.is(await text(out, 'net-none'), 'lo');
  t.is(await text(out, 'netdev-none'), 'lo');
  const host = (await readdir('/sys/class/net')).sort();
  t.notDeepEqual((await text(out, 'net-default')).split('\n').sort(), host);
  t.deepEqual((await text(out, 'net-host')).split('\n').sort(), host);
});

it('USER nobody cannot write root-owned files and holds no capability; USER app writes its home, with its groups', async (t) => {
  const out = await buildLocal(`FROM busybox:latest
RUN chown app:app /home/app
USER nobody
RUN touch /etc/x 2> /tmp/nobody.err && echo wrote > /tmp/nobody || echo refused > /tmp/nobody; \\
    id > /tmp/nobody.id; grep CapEff /proc/self/status | cut -f2 > /tmp/nobody.capeff
USER app
RUN touch /home/app/mine && id > /home/app/id
`);
  t.is(await text(out, 'tmp/nobody'), 'refused');
  t.regex(await text(out, 'tmp/nobody.err'), /permission denied/i);
  t.is(await text(out, 'tmp/nobody.id'), 'uid=65534(nobody) gid=65534(nogroup)');
  t.is(await text(out, 'tmp/nobody.capeff'), '0000000000000000');
  // app is a member of `users` (100) in the fixture's /etc/group.
  t.is(await text(out, 'home/app/id'), 'uid=1000(app) gid=1000(app) groups=100(users)');
  t.is(await text(out, 'home/app/mine'), '');
});

it('RUN --security=insecure is refused without --allow security.insecure', async (t) => {
  const ctx = await context({ Dockerfile: 'FROM busybox:latest\nRUN --security=insecure true\n' });
  const r = await tsbuild(['build', '--progress=plain', ctx], { root: suite.store.root });
  t.not(r.code, 0);
  t.regex(r.stderr, /--security=insecure needs --allow security\.insecure/);
});

// The capability set tsbuild itself holds: all that an insecure step can get.
async function ownBoundingSet(): Promise<string> {
  const status = await readFile('/proc/self/status', 'utf8');
  return /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)![1]!;
}

// Fails while run-step.ts asks for a fixed list of every capability: where
// tsbuild itself lacks one (this machine has no CAP_SYS_RESOURCE) capset
// fails. See the report: the list must come from tsbuild's bounding set.
it('RUN --security=insecure with --allow security.insecure gets every capability tsbuild holds', async (t) => {
  const out = await buildLocal(`FROM busybox:latest
RUN --security=insecure grep CapEff /proc/self/status | cut -f2 > /capeff; \\
    mkdir /mnt && mount -t tmpfs none /mnt && echo mounted > /mount
`, ['--allow', 'security.insecure']);
  t.is(await text(out, 'capeff'), await ownBoundingSet());
  t.is(await text(out, 'mount'), 'mounted');
});

// No root needed: the check that turns capset's bare EPERM into a clear error.
test('capabilities tsbuild does not hold are refused with a clear error, before the sandbox starts', (t) => {
  const status = 'Name:\tx\nCapBnd:\t00000000a80425fb\n';
  t.deepEqual(grantableCapabilities(status), [...DOCKER_DEFAULT_CAPS].sort((a, b) => capNo(a) - capNo(b)));
  const grantable = grantableCapabilities(status);
  t.notThrows(() => assertCapabilitiesGrantable({ bounding: ['CAP_SYS_ADMIN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'] }, grantable));
  const err = t.throws(() => assertCapabilitiesGrantable({ bounding: [], effective: ['CAP_SYS_ADMIN'], permitted: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] }, grantable));
  t.is((err as { code?: string }).code, 'SANDBOX_SPEC_INVALID');
  t.regex(err!.message, /capabilities CAP_NET_ADMIN, CAP_SYS_ADMIN cannot be granted/);
});
