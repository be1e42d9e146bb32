// A registry that trickles a byte now and then and never finishes: `pull`
// must not stay alive forever. Through a loopback proxy in front of a real
// registry that trickles every blob body (the real registry cannot be made
// to do that), `tsbuild pull` with small bounds ends with a clear one-line
// error, keeps nothing, and leaves `du --check` clean.

import test from 'ava';
import path from 'node:path';
import { tsbuild } from './helpers/cli.js';
import { pushBusybox, registrySkipReason, startProxy, startRegistry, type RegistryServer, type TestProxy } from './helpers/registry-server.js';
import { tempDir } from './helpers/temp-dirs.js';

const skip = registrySkipReason();
let registry: RegistryServer | undefined;
let proxy: TestProxy | undefined;
const rangeRequests: string[] = [];

test.before(async () => {
  if (skip) return;
  registry = await startRegistry();
  await pushBusybox(`${registry.host}/slow:v1`);
  proxy = await startProxy(registry.port, {
    onRequest(r) {
      if (r.headers.range) rangeRequests.push(String(r.headers.range));
      return 'forward';
    },
    onResponse: (r, _status, headers) => (/\/blobs\/sha256:/.test(r.url) && Number(headers['content-length']) > 10_000 ? 'trickle' : 'pass'),
  });
});

test.after.always(async () => {
  await proxy?.stop();
  await registry?.stop();
});

const it = skip ? test.skip : test;

it(`pull from a registry that trickles fails within its bounds with a clear message${skip ? ` (skipped: ${skip})` : ''}`, async (t) => {
  const root = await tempDir('tsbuild-stall-');
  const env = { TSBUILD_PULL_MIN_RATE: '1000', TSBUILD_PULL_STALL_WINDOW: '1', TSBUILD_PULL_MAX_STALLS: '2' };
  const r = await tsbuild(['pull', `${proxy!.host}/slow:v1`], { root, env });
  t.is(r.code, 1, r.stdout + r.stderr);
  const errors = r.stderr.trim().split('\n').filter((l) => l.startsWith('ERROR'));
  t.is(errors.length, 1, r.stderr);
  t.regex(errors[0]!, /stalled: 2 tries in a row brought less than 1000 B\/s over 1s \(\d+ of \d+ bytes; .*\); set TSBUILD_PULL_MIN_RATE/);
  // The second try resumed where the first stopped (one byte in: the trickle is progress of a sort).
  t.true(rangeRequests.some((h) => /^bytes=[1-9]\d*-$/.test(h)), JSON.stringify(rangeRequests));
  t.is((await tsbuild(['images', '-q'], { root })).stdout, '');
  t.is((await tsbuild(['du', '--check'], { root })).code, 0);
});

it(`a bad bound is a one-line error${skip ? ` (skipped: ${skip})` : ''}`, async (t) => {
  const root = await tempDir('tsbuild-stall-');
  const r = await tsbuild(['pull', `${proxy!.host}/slow:v1`], { root, env: { TSBUILD_PULL_MIN_RATE: 'fast' } });
  t.is(r.code, 1);
  t.regex(r.stderr, /^ERROR: TSBUILD_PULL_MIN_RATE: expected a positive number, got "fast"\n$/);
});
