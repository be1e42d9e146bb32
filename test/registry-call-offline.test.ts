// `--call check|outline|targets` on a Dockerfile whose base image the store
// lacks: like BuildKit it asks the registry for the manifest and config only
// (no layer, nothing stored); with TSBUILD_OFFLINE=1 it contacts no registry
// at all and checks the stage without the base image's config. A counting
// proxy in front of a real registry tells what was asked.

import test from 'ava';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tsbuild } from './helpers/cli.js';
import { pushBusybox, registrySkipReason, startProxy, startRegistry, type RegistryServer, type TestProxy } from './helpers/registry-server.js';
import { tempDir } from './helpers/temp-dirs.js';

const skip = registrySkipReason();
let registry: RegistryServer | undefined;
let proxy: TestProxy | undefined;
const requests: string[] = [];

test.before(async () => {
  if (skip) return;
  registry = await startRegistry();
  await pushBusybox(`${registry.host}/base:v1`);
  proxy = await startProxy(registry.port, {
    onRequest(r) {
      requests.push(`${r.method} ${r.url}`);
      return 'forward';
    },
  });
});

test.after.always(async () => {
  await proxy?.stop();
  await registry?.stop();
});

const it = skip ? test.skip : test.serial;
const reason = skip ? ` (skipped: ${skip})` : '';

async function context(dockerfile: string): Promise<string> {
  const dir = await tempDir('tsbuild-call-ctx-');
  await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

it(`--call check fetches only the manifest and config of a missing base image and stores nothing${reason}`, async (t) => {
  requests.length = 0;
  const root = await tempDir('tsbuild-call-');
  const ctx = await context(`FROM ${proxy!.host}/base:v1\nENV P=$PATH\n`);
  const r = await tsbuild(['build', '--call', 'check', ctx], { root });
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /Check complete, no warnings found/);
  t.true(requests.some((u) => /manifests\/v1/.test(u)), requests.join('\n'));
  const blobGets = requests.filter((u) => /^GET .*\/blobs\//.test(u));
  t.is(blobGets.length, 1, `only the config blob: ${blobGets.join(', ')}`);
  t.is((await tsbuild(['images', '-q'], { root })).stdout, '');
});

it(`TSBUILD_OFFLINE=1: --call check, outline and targets contact no registry${reason}`, async (t) => {
  requests.length = 0;
  const root = await tempDir('tsbuild-call-');
  const ctx = await context(`FROM ${proxy!.host}/base:v1 AS app\nARG VERSION=1\nENV P=$PATH\n`);
  const env = { TSBUILD_OFFLINE: '1' };
  const check = await tsbuild(['build', '--call', 'check', ctx], { root, env });
  t.is(check.code, 0, check.stdout + check.stderr);
  t.regex(check.stdout, /Check complete, no warnings found/);
  t.regex(check.stderr, new RegExp(`WARNING: base image ${proxy!.host}/base:v1 is not in the local store and TSBUILD_OFFLINE is set: checked without its config`));
  const outline = await tsbuild(['build', '--call', 'outline', ctx], { root, env });
  t.is(outline.code, 0, outline.stderr);
  t.regex(outline.stdout, /VERSION/);
  const targets = await tsbuild(['build', '--call', 'targets', ctx], { root, env });
  t.is(targets.code, 0, targets.stderr);
  t.regex(targets.stdout, /app/);
  t.deepEqual(requests, []);
});

it(`TSBUILD_OFFLINE=1: a build whose base image is missing fails with one line, without asking${reason}`, async (t) => {
  requests.length = 0;
  const root = await tempDir('tsbuild-call-');
  const ctx = await context(`FROM ${proxy!.host}/base:v1\n`);
  const r = await tsbuild(['build', ctx], { root, env: { TSBUILD_OFFLINE: '1' } });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /ERROR: .*base:v1: not in the local store, and TSBUILD_OFFLINE is set/);
  t.deepEqual(requests, []);
});
