// Credentials and the errors users see: htpasswd (basic) and bearer-token
// registries, the docker config and credential helpers, login/logout, and
// one-line errors for a wrong password, a missing image, an unreachable
// registry and a registry that sends bytes with the wrong digest.

import test from 'ava';
import { chmodSync, promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Digest } from '../cache/digest.js';
import { openStore, type Store } from '../builder/store/open-store.js';
import { getCredentials, login, logout, pullImage, pushImage, RegistryError } from '../builder/registry/index.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { freePort, registrySkipReason, startProxy, startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { runIf } from './helpers/skip.js';

const skip = registrySkipReason();
const USER = 'tester';
const PASS = 's3cret pass';
let secured: RegistryServer;
let open: RegistryServer;
let tmp: string;
let source: Store;
let sourceId: Digest;
const settings = { insecure: [], mirrors: {} };
const retry = { baseDelayMs: 5, maxDelayMs: 20, attempts: 3 };

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-auth-'));
  process.env.TSBUILD_ROOT = path.join(tmp, 'root');
  if (skip) return;
  secured = await startRegistry({ auth: { username: USER, password: PASS } });
  open = await startRegistry();
  sourceId = (await loadBusyboxImage('busybox:latest', path.join(tmp, 'source'))) as Digest;
  source = await openStore(path.join(tmp, 'source'));
});

test.after.always(async () => {
  await secured?.stop();
  await open?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** Each test gets its own docker config dir (tests here run serially). */
async function freshDockerConfig(name: string): Promise<string> {
  const dir = path.join(tmp, `docker-${name}`);
  await fs.mkdir(dir, { recursive: true });
  process.env.DOCKER_CONFIG = dir;
  return path.join(dir, 'config.json');
}

async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof RegistryError)) throw new Error(`expected a RegistryError, got ${String(err)}`);
  return err;
}

function oneLine(t: { true(v: boolean, m?: string): void }, err: Error): void {
  t.true(!err.message.includes('\n'), `one line: ${err.message}`);
}

runIf(skip, test.serial)('without credentials a protected registry says to log in', async (t) => {
  await freshDockerConfig('anonymous');
  const err = await rejection(pushImage(source.content, source.images, 'busybox:latest', `${secured.host}/app:v1`, { settings }));
  t.is(err.code, 'REGISTRY_UNAUTHORIZED');
  t.regex(err.message, new RegExp(`${secured.host}.*requires authentication for ${secured.host}/app:v1.*tsbuild login ${secured.host}`));
  oneLine(t, err);
});

runIf(skip, test.serial)('login with a wrong password fails in one line and stores nothing', async (t) => {
  const config = await freshDockerConfig('wrong');
  const err = await rejection(login(secured.host, { username: USER, password: 'nope' }, { settings }));
  t.is(err.code, 'REGISTRY_UNAUTHORIZED');
  t.regex(err.message, new RegExp(`authentication to ${secured.host} failed.*wrong username or password`));
  oneLine(t, err);
  await t.throwsAsync(fs.access(config));
});

runIf(skip, test.serial)('login stores credentials (0600), push and pull use them, logout removes them', async (t) => {
  const config = await freshDockerConfig('roundtrip');
  await fs.writeFile(config, JSON.stringify({ auths: {}, psFormat: 'table {{.ID}}' }));
  t.is(await login(`http://${secured.host}/`, { username: USER, password: PASS }, { settings }), secured.host);
  const stat = await fs.stat(config);
  t.is(stat.mode & 0o777, 0o600);
  const written = JSON.parse(await fs.readFile(config, 'utf8')) as { auths: Record<string, { auth: string }>; psFormat: string };
  t.is(Buffer.from(written.auths[secured.host]!.auth, 'base64').toString(), `${USER}:${PASS}`);
  t.is(written.psFormat, 'table {{.ID}}', 'other settings kept');

  const pushed = await pushImage(source.content, source.images, 'busybox:latest', `${secured.host}/app:v1`, { settings });
  const dest = await openStore(path.join(tmp, 'auth-dest'));
  const pulled = await pullImage(dest.content, dest.images, `${secured.host}/app:v1`, { settings });
  t.is(pulled.manifestDigest, pushed.digest);
  t.is(pulled.configDigest, sourceId);

  t.deepEqual(await logout(secured.host), { registry: secured.host, removed: true });
  t.is(await getCredentials(secured.host), undefined);
  t.deepEqual(await logout(secured.host), { registry: secured.host, removed: false });
  const err = await rejection(pullImage(dest.content, dest.images, `${secured.host}/app:v1`, { settings }));
  t.is(err.code, 'REGISTRY_UNAUTHORIZED');
});

runIf(skip, test.serial)('a wrong password in the docker config gives a one-line error naming registry and image', async (t) => {
  const config = await freshDockerConfig('stale');
  await fs.writeFile(config, JSON.stringify({ auths: { [`https://${secured.host}`]: { auth: Buffer.from(`${USER}:old`).toString('base64') } } }));
  const dest = await openStore(path.join(tmp, 'stale-dest'));
  const err = await rejection(pullImage(dest.content, dest.images, `${secured.host}/app:v1`, { settings }));
  t.is(err.code, 'REGISTRY_UNAUTHORIZED');
  t.is(err.message, `authentication to ${secured.host} failed for ${secured.host}/app:v1: wrong username or password for user "${USER}"`);
});

runIf(skip, test.serial)('credentials come from a credential helper (credHelpers), and login stores through it', async (t) => {
  const config = await freshDockerConfig('helper');
  const bin = path.join(tmp, 'helper-bin');
  const vault = path.join(tmp, 'helper-vault.json');
  await fs.mkdir(bin, { recursive: true });
  // A fake docker-credential helper keeping one record in a file.
  const script = path.join(bin, 'docker-credential-fake');
  await fs.writeFile(script, [
    '#!/bin/sh',
    `VAULT='${vault}'`,
    'input=$(cat)',
    'case "$1" in',
    '  store) printf "%s" "$input" > "$VAULT" ;;',
    '  get) if [ -f "$VAULT" ]; then cat "$VAULT"; else echo "credentials not found in native keychain"; exit 1; fi ;;',
    '  erase) if [ -f "$VAULT" ]; then rm "$VAULT"; else echo "credentials not found in native keychain"; exit 1; fi ;;',
    'esac',
    '',
  ].join('\n'));
  chmodSync(script, 0o755);
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}:${oldPath ?? ''}`;
  try {
    await fs.writeFile(config, JSON.stringify({ credHelpers: { [secured.host]: 'fake' } }));
    await login(secured.host, { username: USER, password: PASS }, { settings });
    const stored = JSON.parse(await fs.readFile(vault, 'utf8')) as { ServerURL: string; Username: string; Secret: string };
    t.deepEqual(stored, { ServerURL: secured.host, Username: USER, Secret: PASS });
    const written = JSON.parse(await fs.readFile(config, 'utf8')) as { auths: Record<string, object> };
    t.deepEqual(written.auths[secured.host], {}, 'no password in the config file');
    t.deepEqual(await getCredentials(secured.host), { username: USER, password: PASS });
    const dest = await openStore(path.join(tmp, 'helper-dest'));
    await pushImage(source.content, source.images, 'busybox:latest', `${secured.host}/helper:v1`, { settings });
    const pulled = await pullImage(dest.content, dest.images, `${secured.host}/helper:v1`, { settings });
    t.is(pulled.configDigest, sourceId);
    t.true((await logout(secured.host)).removed);
    await t.throwsAsync(fs.access(vault));
  } finally {
    process.env.PATH = oldPath;
  }
});

runIf(skip, test.serial)('a missing tag is a one-line MANIFEST_UNKNOWN naming registry and reference', async (t) => {
  await freshDockerConfig('missing');
  const dest = await openStore(path.join(tmp, 'missing-dest'));
  const err = await rejection(pullImage(dest.content, dest.images, `${open.host}/nothing-here:v9`, { settings }));
  t.is(err.code, 'MANIFEST_UNKNOWN');
  t.regex(err.message, new RegExp(`^${open.host}/nothing-here:v9 not found in ${open.host} \\((MANIFEST|NAME)_UNKNOWN`));
  oneLine(t, err);
});

runIf(skip, test.serial)('an unreachable registry is a one-line error naming it and the reference', async (t) => {
  await freshDockerConfig('unreachable');
  const port = await freePort();
  const dest = await openStore(path.join(tmp, 'unreachable-dest'));
  const err = await rejection(pullImage(dest.content, dest.images, `127.0.0.1:${port}/app:v1`, { settings, retry }));
  t.is(err.code, 'REGISTRY_UNREACHABLE');
  t.is(err.message, `cannot reach 127.0.0.1:${port} for 127.0.0.1:${port}/app:v1: connection refused by 127.0.0.1:${port}`);
});

runIf(skip, test.serial)('a registry sending a blob with the wrong digest is refused and nothing is tagged', async (t) => {
  await freshDockerConfig('corrupt');
  await pushImage(source.content, source.images, 'busybox:latest', `${open.host}/corrupt:v1`, { settings });
  const proxy = await startProxy(open.port, { onResponse: (r) => (/\/blobs\/sha256:/.test(r.url) ? 'corrupt' : 'pass') });
  try {
    const dest = await openStore(path.join(tmp, 'corrupt-dest'));
    const err = await rejection(pullImage(dest.content, dest.images, `${proxy.host}/corrupt:v1`, { settings, retry }));
    t.is(err.code, 'REGISTRY_DIGEST_MISMATCH');
    t.regex(err.message, new RegExp(`^${proxy.host} sent .* for ${proxy.host}/corrupt:v1 with digest sha256:[0-9a-f]{64}, expected sha256:`));
    oneLine(t, err);
    t.is(await dest.images.tryResolve(`${proxy.host}/corrupt:v1`), undefined);
    t.deepEqual(await fs.readdir(dest.content.tempDir()), [], 'no temp files left');
  } finally {
    await proxy.stop();
  }
});

runIf(skip, test.serial)('bearer tokens: the challenge leads to the token server, tokens are scoped and reused', async (t) => {
  await freshDockerConfig('bearer');
  // A token-auth front for the open registry: /token checks basic credentials and
  // issues a token naming the scopes; /v2/ needs a token whose scopes cover the repository.
  const port = await freePort();
  const issued: string[] = [];
  const front = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (url.pathname === '/token') {
      if (req.headers.authorization !== 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64')) {
        res.writeHead(401).end();
        return;
      }
      const scopes = url.searchParams.getAll('scope');
      issued.push(scopes.join(' '));
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: Buffer.from(JSON.stringify(scopes)).toString('base64url'), expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization ?? '';
    const repo = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(url.pathname)?.[1];
    const granted = auth.startsWith('Bearer ') ? (JSON.parse(Buffer.from(auth.slice(7), 'base64url').toString()) as string[]) : undefined;
    const allowed = granted !== undefined && (repo === undefined || granted.some((s) => s.startsWith(`repository:${repo}:`)));
    if (!allowed) {
      req.resume();
      const scope = repo ? `,scope="repository:${repo}:pull"` : '';
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry"${scope}`, 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = http.request({ host: '127.0.0.1', port: open.port, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => front.listen(port, '127.0.0.1', resolve));
  try {
    const host = `127.0.0.1:${port}`;
    const bad = await rejection(login(host, { username: USER, password: 'wrong' }, { settings }));
    t.is(bad.code, 'REGISTRY_UNAUTHORIZED');
    await login(host, { username: USER, password: PASS }, { settings });
    // A token cached for the right password must not vouch for a wrong one.
    t.is((await rejection(login(host, { username: USER, password: 'wrong' }, { settings }))).code, 'REGISTRY_UNAUTHORIZED');
    await login(host, { username: USER, password: PASS }, { settings });
    const pushed = await pushImage(source.content, source.images, 'busybox:latest', `${host}/tok/app:v1`, { settings });
    t.true(issued.includes('repository:tok/app:pull,push'), issued.join(' | '));
    const pushTokens = issued.filter((s) => s.includes('tok/app:pull,push')).length;
    t.is(pushTokens, 1, 'one token for the whole push');
    const dest = await openStore(path.join(tmp, 'bearer-dest'));
    const pulled = await pullImage(dest.content, dest.images, `${host}/tok/app:v1`, { settings });
    t.is(pulled.manifestDigest, pushed.digest);
    t.true(issued.includes('repository:tok/app:pull'));
  } finally {
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
  }
});

runIf(skip, test.serial)('a registry that keeps answering 500 gives up after the retries with a one-line error', async (t) => {
  await freshDockerConfig('always500');
  let requests = 0;
  const proxy = await startProxy(open.port, {
    onRequest: () => {
      requests++;
      return 'error500';
    },
  });
  try {
    const dest = await openStore(path.join(tmp, 'always500-dest'));
    const err = await rejection(pullImage(dest.content, dest.images, `${proxy.host}/app:v1`, { settings, retry: { ...retry, attempts: 4 } }));
    t.is(err.code, 'REGISTRY_ERROR');
    t.is(err.message, `${proxy.host} kept failing for ${proxy.host}/app:v1: ${proxy.host} answered 500 to GET /v2/`);
    // The HTTPS probe before them is refused by the HTTP parser and never reaches the handler.
    t.is(requests, 4, 'four tries over HTTP');
  } finally {
    await proxy.stop();
  }
});
