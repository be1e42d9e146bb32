// Health checks through the CLI: --health-* flags and an image's own
// HEALTHCHECK, seen as ps shows them ((health: starting), (healthy),
// (unhealthy)) and as inspect's State.Health.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './helpers/temp-dirs.js';
import { containerSuite } from './container-helpers.js';

const s = await containerSuite('tsbuild-health-');

const psStatus = async (name: string) => (await s.cli('ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}')).stdout.trim();

// The phases last seconds, not the probe's 300 ms, so that a loaded machine's
// slow `ps` still sees each of them.
s.e2e('--health-cmd: starting, then healthy, then unhealthy after --health-retries failures', async (t) => {
  const r = await s.cli('run', '-d', '--name', 'hc', '--health-cmd', 'cat /ok', '--health-interval', '300ms', '--health-retries', '2',
    'busybox', 'sh', '-c', 'sleep 3; echo fine > /ok; sleep 6; rm /ok; exec sleep 300');
  t.is(r.code, 0, r.stderr);
  t.regex(await psStatus('hc'), /^Up .* \(health: starting\)$/);
  t.regex(await s.eventually(() => psStatus('hc'), (v) => v.endsWith('(healthy)')), /^Up .* \(healthy\)$/);
  const healthy = JSON.parse((await s.cli('inspect', '-f', '{{json .State.Health}}', 'hc')).stdout) as { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string }[] };
  t.is(healthy.Status, 'healthy');
  t.is(healthy.FailingStreak, 0);
  t.like(healthy.Log[healthy.Log.length - 1], { ExitCode: 0, Output: 'fine\n' });
  t.regex(await s.eventually(() => psStatus('hc'), (v) => v.endsWith('(unhealthy)')), /^Up .* \(unhealthy\)$/);
  const sick = JSON.parse((await s.cli('inspect', '-f', '{{json .State.Health}}', 'hc')).stdout) as { Status: string; FailingStreak: number; Log: unknown[] };
  t.is(sick.Status, 'unhealthy');
  t.true(sick.FailingStreak >= 2);
  t.true(sick.Log.length <= 5, 'at most five results are kept');
});

s.e2e("the image's HEALTHCHECK runs; --no-healthcheck turns it off; a probe that overruns --health-timeout fails", async (t) => {
  const ctx = await tempDir('tsbuild-health-ctx-');
  await mkdir(ctx, { recursive: true });
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD test -e /proc/1\nCMD ["sleep", "300"]\n');
  const b = await s.cli('build', '-q', '-t', 'hc-image', ctx);
  t.is(b.code, 0, b.stderr);
  await s.cli('run', '-d', '--name', 'from-image', 'hc-image');
  t.regex(await s.eventually(() => psStatus('from-image'), (v) => v.endsWith('(healthy)')), /\(healthy\)$/);
  await s.cli('run', '-d', '--name', 'off', '--no-healthcheck', 'hc-image');
  t.regex(await psStatus('off'), /^Up [^(]*$/);
  t.is((await s.cli('inspect', '-f', '{{.State.Health}}', 'off')).stdout, '<no value>\n');
  await s.cli('run', '-d', '--name', 'slow', '--health-cmd', 'sleep 5', '--health-timeout', '200ms', '--health-interval', '300ms', '--health-retries', '1', 'busybox', 'sleep', '300');
  await s.eventually(() => psStatus('slow'), (v) => v.endsWith('(unhealthy)'));
  const log = JSON.parse((await s.cli('inspect', '-f', '{{json .State.Health.Log}}', 'slow')).stdout) as { ExitCode: number; Output: string }[];
  t.like(log[0], { ExitCode: -1, Output: 'Health check exceeded timeout (0.2s)' });
});
