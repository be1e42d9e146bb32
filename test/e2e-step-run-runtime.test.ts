// End to end: `tsbuild build --runtime runc` runs RUN steps from the very
// same sandbox spec with an installed OCI runtime; the results match ours.
import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { findOciRuntime } from '../runner-native/index.js';
import { tsbuild } from './helpers/cli.js';
import { e2eRunSuite } from './e2e-step-run-helpers.js';
import { runIf } from './helpers/skip.js';

const suite = e2eRunSuite('e2e RUN --runtime');
const runcMissing = findOciRuntime('runc') ? undefined : 'needs runc (Debian package runc)';
const it = runIf(runcMissing, suite.it);

const DOCKERFILE = `FROM busybox:latest
RUN grep CapEff /proc/self/status > /caps && hostname > /host && echo $$ > /pid && ls /sys/class/net > /net 2>/dev/null; true
`;

async function buildWith(runtime: string): Promise<string> {
  const ctx = await suite.context({ Dockerfile: DOCKERFILE });
  const out = path.join(await suite.scratchDir('runtime'), 'rootfs');
  const r = await tsbuild(['build', '--no-cache', '--runtime', runtime, '-o', `type=local,dest=${out}`, ctx], { root: suite.store.root });
  if (r.code !== 0) throw new Error(r.stderr);
  return out;
}

it('runc sees what the native sandbox sees, and its mountpoints stay out of the image', async (t) => {
  const native = await buildWith('native');
  const runc = await buildWith('runc');
  for (const f of ['caps', 'host', 'pid']) {
    t.is(await readFile(path.join(runc, f), 'utf8'), await readFile(path.join(native, f), 'utf8'), f);
  }
  t.regex(await readFile(path.join(runc, 'caps'), 'utf8'), /00000000a80425fb/);
  t.deepEqual((await readdir(path.join(runc, 'etc'))).sort(), (await readdir(path.join(native, 'etc'))).sort());
});

test('an unknown --runtime is a usage error', async (t) => {
  const r = await tsbuild(['build', '--runtime', 'kata', '.'], { root: '/nonexistent' });
  t.is(r.code, 1);
  t.regex(r.stderr, /invalid --runtime "kata"/);
});
