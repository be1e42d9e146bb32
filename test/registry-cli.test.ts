// The CLI commands (`pull`, `push`, `login`, `logout`) driven through their
// run() functions against a real registry, plus registry mirrors.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest } from '../cache/digest.js';
import { openStore, type Store } from '../builder/store/open-store.js';
import { run as loginCmd } from '../builder/cli/commands/login.js';
import { run as logoutCmd } from '../builder/cli/commands/logout.js';
import { run as pullCmd } from '../builder/cli/commands/pull.js';
import { run as pushCmd } from '../builder/cli/commands/push.js';
import { pullImage, pushImage, RegistryError, SETTINGS_FILE } from '../builder/registry/index.js';
import { loadBusyboxImage } from '../fixtures/base-images/load-busybox.js';
import { freePort, registrySkipReason, startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { runIf } from './helpers/skip.js';

const skip = registrySkipReason();
const USER = 'cli-user';
const PASS = 'cli-pass';
let secured: RegistryServer;
let tmp: string;
let root: string;
let store: Store;
let busyboxId: Digest;

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-cli-'));
  root = path.join(tmp, 'root');
  // The commands open the default store and the default docker config: point both at temp dirs.
  process.env.TSBUILD_ROOT = root;
  process.env.DOCKER_CONFIG = path.join(tmp, 'docker');
  if (skip) return;
  secured = await startRegistry({ auth: { username: USER, password: PASS } });
  busyboxId = (await loadBusyboxImage('busybox:latest', root)) as Digest;
  store = await openStore(root);
});

test.after.always(async () => {
  await secured?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** Run a command, capturing what it prints on stdout. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await fn(), out };
  } finally {
    process.stdout.write = write;
  }
}

runIf(skip, test.serial)('login, push, pull, logout through the CLI commands', async (t) => {
  const config = path.join(process.env.DOCKER_CONFIG!, 'config.json');
  await t.throwsAsync(loginCmd(['-u', USER, '-p', 'bad', secured.host]), { instanceOf: RegistryError, message: /wrong username or password/ });

  const login = await capture(() => loginCmd(['-u', USER, '-p', PASS, secured.host]));
  t.is(login.code, 0);
  t.is(login.out, 'Login Succeeded\n');
  t.is((await fs.stat(config)).mode & 0o777, 0o600);

  const target = `${secured.host}/cli/busybox:v1`;
  const push = await capture(() => pushCmd(['busybox:latest', target]));
  t.is(push.code, 0);
  t.regex(push.out, new RegExp(`^The push refers to repository \\[${secured.host}/cli/busybox\\]\n[0-9a-f]{12}: Pushed\nv1: digest: sha256:[0-9a-f]{64} size: \\d+\n$`));

  // Pull back under the pushed name after dropping the local tag.
  await store.images.tag(target, (await store.images.resolve('busybox:latest')).manifestDigest);
  await store.images.untag(target);
  const pull = await capture(() => pullCmd([target]));
  t.is(pull.code, 0);
  t.true(pull.out.endsWith(`${target}\n`), pull.out);
  t.regex(pull.out, /Already exists|Pull complete/);
  t.is((await store.images.resolve(target)).id, busyboxId);

  const quiet = await capture(() => pullCmd(['-q', target]));
  t.is(quiet.out, `${target}\n`);

  const logout = await capture(() => logoutCmd([secured.host]));
  t.is(logout.out, `Removing login credentials for ${secured.host}\n`);
  const again = await capture(() => logoutCmd([secured.host]));
  t.is(again.out, `Not logged in to ${secured.host}\n`);
  const written = JSON.parse(await fs.readFile(config, 'utf8')) as { auths: Record<string, unknown> };
  t.deepEqual(written.auths, {});
  await t.throwsAsync(pullCmd([target]), { instanceOf: RegistryError, message: /requires authentication/ });
});

runIf(skip, test.serial)('mirrors are tried first; a mirror without the image falls back to the registry', async (t) => {
  const mirror = await startRegistry();
  try {
    const dead = `127.0.0.1:${await freePort()}`;
    // The mirror holds the image under the same repository path as the (unreachable) registry.
    const noSettings = { insecure: [], mirrors: {} };
    await pushImage(store.content, store.images, 'busybox:latest', `${mirror.host}/team/app:v1`, { settings: noSettings });
    // registries.json lives in the root of the store being pulled into.
    const dest = await openStore(path.join(tmp, 'mirror-dest'));
    await fs.writeFile(path.join(dest.paths.root, SETTINGS_FILE), JSON.stringify({ mirrors: { [dead]: [`http://${mirror.host}`] } }));
    const pulled = await pullImage(dest.content, dest.images, `${dead}/team/app:v1`, { retry: { attempts: 1 } });
    t.is(pulled.ref, `${dead}/team/app:v1`);
    t.is(pulled.configDigest, busyboxId);
    // Not on the mirror: the registry itself is asked, and its error is the one reported.
    const err = await t.throwsAsync(pullImage(dest.content, dest.images, `${dead}/team/other:v1`, { retry: { attempts: 1 } }), { instanceOf: RegistryError });
    t.is((err as RegistryError).code, 'REGISTRY_UNREACHABLE');
    t.regex(err!.message, new RegExp(`cannot reach ${dead} for ${dead}/team/other:v1`));
    // The environment variable works the same way.
    await fs.rm(path.join(dest.paths.root, SETTINGS_FILE));
    await dest.images.untag(`${dead}/team/app:v1`);
    process.env.TSBUILD_REGISTRY_MIRRORS = `${dead}=http://${mirror.host}`;
    const viaEnv = await pullImage(dest.content, dest.images, `${dead}/team/app:v1`, { retry: { attempts: 1 } });
    t.is(viaEnv.configDigest, busyboxId);
  } finally {
    delete process.env.TSBUILD_REGISTRY_MIRRORS;
    await mirror.stop();
  }
});

runIf(skip, test.serial)('login --password-stdin reads the password from stdin', async (t) => {
  const dockerDir = path.join(tmp, 'docker-stdin');
  const module = new URL('../builder/cli/commands/login.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(module)}); process.exitCode = await m.run(process.argv.slice(1));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', '-u', USER, '--password-stdin', secured.host], {
    input: `${PASS}\n`,
    env: { ...process.env, DOCKER_CONFIG: dockerDir },
    encoding: 'utf8',
  });
  t.is(child.status, 0, child.stderr);
  t.is(child.stdout, 'Login Succeeded\n');
  const written = JSON.parse(await fs.readFile(path.join(dockerDir, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  t.is(Buffer.from(written.auths[secured.host]!.auth, 'base64').toString(), `${USER}:${PASS}`);
});
