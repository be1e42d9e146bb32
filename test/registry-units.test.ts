// Pure parts of the registry client: challenge parsing, settings and
// endpoints, server-name normalisation, retry classification.

import test from 'ava';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseChallenges } from '../builder/registry/auth.js';
import { credentialKey } from '../builder/registry/docker-config.js';
import { TransientError } from '../builder/registry/errors.js';
import { isTransient, parseRetryAfter, withRetry } from '../builder/registry/retry.js';
import { endpointsFor, isInsecureRegistry, isLoopback, loadRegistrySettings, registryFromServerArg } from '../builder/registry/settings.js';

test('WWW-Authenticate challenges parse with quoted, escaped and bare values', (t) => {
  t.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  t.deepEqual(parseChallenges('Basic realm="a \\"b\\"", Bearer realm=x,error=insufficient_scope'), [
    { scheme: 'basic', params: { realm: 'a "b"' } },
    { scheme: 'bearer', params: { realm: 'x', error: 'insufficient_scope' } },
  ]);
  t.deepEqual(parseChallenges(''), []);
});

test('loopback registries are insecure without configuration; others only when listed', (t) => {
  const none = { insecure: [], mirrors: {} };
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) t.true(isLoopback(h), h);
  for (const h of ['registry.example.com', '10.0.0.1:5000', 'localhost.example.com']) t.false(isInsecureRegistry(h, none), h);
  t.true(isInsecureRegistry('reg.lan:5000', { insecure: ['reg.lan:5000'], mirrors: {} }));
  t.true(isInsecureRegistry('reg.lan:5000', { insecure: ['reg.lan'], mirrors: {} }), 'a bare host covers its ports');
  t.false(isInsecureRegistry('reg.lan:5000', { insecure: ['reg.lan:6000'], mirrors: {} }));
});

test('endpoints: Docker Hub host, HTTPS only unless insecure, mirrors first for pulls only', (t) => {
  const settings = { insecure: [], mirrors: { 'docker.io': ['http://127.0.0.1:5000', 'https://mirror.example/prefix/'] } };
  const pull = endpointsFor('docker.io', settings, 'pull');
  t.deepEqual(pull.map((e) => [e.host, e.schemes, e.mirror, e.pathPrefix]), [
    ['127.0.0.1:5000', ['http'], true, ''],
    ['mirror.example', ['https'], true, '/prefix'],
    ['registry-1.docker.io', ['https'], false, ''],
  ]);
  t.is(endpointsFor('docker.io', settings, 'push').length, 1);
  t.deepEqual(endpointsFor('localhost:5000', settings, 'push')[0]!.schemes, ['https', 'http']);
});

test('settings merge registries.json and the environment', async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-settings-'));
  try {
    await fs.writeFile(path.join(root, 'registries.json'), JSON.stringify({ insecure: ['a.lan'], mirrors: { 'docker.io': ['http://m1'] } }));
    process.env.TSBUILD_INSECURE_REGISTRIES = 'b.lan:5000, c.lan';
    process.env.TSBUILD_REGISTRY_MIRRORS = 'docker.io=http://m2,ghcr.io=https://m3';
    process.env.TSBUILD_PULL_STALL_WINDOW = '5';
    t.deepEqual(await loadRegistrySettings(root), {
      insecure: ['a.lan', 'b.lan:5000', 'c.lan'],
      mirrors: { 'docker.io': ['http://m1', 'http://m2'], 'ghcr.io': ['https://m3'] },
      stall: { minBytesPerSec: 1024, windowMs: 5000, maxStalls: 3 },
    });
    delete process.env.TSBUILD_PULL_STALL_WINDOW;
    process.env.TSBUILD_REGISTRY_MIRRORS = 'nonsense';
    await t.throwsAsync(loadRegistrySettings(root), { message: /TSBUILD_REGISTRY_MIRRORS: expected REGISTRY=URL/ });
    await fs.writeFile(path.join(root, 'registries.json'), '{bad');
    delete process.env.TSBUILD_REGISTRY_MIRRORS;
    await t.throwsAsync(loadRegistrySettings(root), { message: /registries.json is not valid JSON/ });
  } finally {
    delete process.env.TSBUILD_INSECURE_REGISTRIES;
    delete process.env.TSBUILD_REGISTRY_MIRRORS;
    delete process.env.TSBUILD_PULL_STALL_WINDOW;
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('server arguments of login/logout normalise to the registry name', (t) => {
  t.is(registryFromServerArg(undefined), 'docker.io');
  t.is(registryFromServerArg('https://index.docker.io/v1/'), 'docker.io');
  t.is(registryFromServerArg('http://127.0.0.1:5000/'), '127.0.0.1:5000');
  t.is(registryFromServerArg('ghcr.io'), 'ghcr.io');
  t.is(credentialKey('docker.io'), 'https://index.docker.io/v1/');
  t.is(credentialKey('ghcr.io'), 'ghcr.io');
});

test('retries: transient failures are retried with backoff, answers are not', async (t) => {
  let calls = 0;
  const value = await withRetry(async () => {
    if (++calls < 3) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    return 'ok';
  }, { baseDelayMs: 1 });
  t.is(value, 'ok');
  t.is(calls, 3);

  calls = 0;
  await t.throwsAsync(withRetry(async () => {
    calls++;
    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  }, { baseDelayMs: 1 }));
  t.is(calls, 1, 'nothing listening is not retried');

  calls = 0;
  await t.throwsAsync(withRetry(async () => {
    calls++;
    throw new TransientError('503');
  }, { baseDelayMs: 1, attempts: 4 }));
  t.is(calls, 4);

  t.true(isTransient(new Error('socket hang up')));
  t.false(isTransient(new Error('manifest unknown')));
  t.is(parseRetryAfter('3'), 3000);
  t.is(parseRetryAfter(undefined), undefined);
});
