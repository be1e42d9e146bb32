// Store commands through a server (tag, history, rmi, du, prune, push,
// pull) and the server's --cache-to/--cache-from defaults, against a real
// registry on loopback: the output and exit codes are those of local runs.
import test from 'ava';
import path from 'node:path';
import { buildSkipReason, freshStore, tsbuild, tempDir } from './helpers/cli.js';
import { startServe, type TestServer } from './helpers/serve.js';
import { registrySkipReason, startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { makeContext } from './e2e-image-helpers.js';

const skip = buildSkipReason() ?? registrySkipReason();
const it = skip ? test.skip : test.serial;
if (skip) test.skip(`server store commands (skipped: ${skip})`, () => {});

let store: Awaited<ReturnType<typeof freshStore>>;
let server: TestServer;
let registry: RegistryServer;
let host: string;

test.before(async () => {
  if (skip) return;
  store = await freshStore();
  registry = await startRegistry();
  const sock = path.join(await tempDir('tsbuild-sock-'), 'tsbuild.sock');
  // Every build this server runs exports its cache to the registry unless it names its own.
  server = await startServe(store.root, ['--addr', `unix://${sock}`, '--cache-to', `type=registry,ref=${registry.host}/team/cache:main,mode=max`]);
  host = `unix://${sock}`;
});
test.after.always(async () => {
  await server?.stop();
  await registry?.stop();
  await store?.dispose();
});

const remote = async (args: string[]) => tsbuild(['--host', host, ...args], { root: await tempDir('tsbuild-client-') });

it('tag, history, push, rmi, pull, du and prune run on the server with local output and exit codes', async (t) => {
  const ctx = await makeContext({ Dockerfile: 'FROM busybox:latest\nRUN echo stored > /stored.txt\n' });
  const built = await remote(['build', '-q', '-t', 'store-app:v1', ctx]);
  t.is(built.code, 0, built.stderr);
  t.regex(built.stdout, /^sha256:[0-9a-f]{64}\n$/);

  t.is((await remote(['tag', 'store-app:v1', `${registry.host}/team/app:v1`])).code, 0);
  const history = await remote(['history', 'store-app:v1']);
  t.regex(history.stdout, /echo stored > \/stored.txt/);
  const pushed = await remote(['push', `${registry.host}/team/app:v1`]);
  t.is(pushed.code, 0, pushed.stderr);
  t.is((await remote(['rmi', `${registry.host}/team/app:v1`])).code, 0);
  t.notRegex((await remote(['images'])).stdout, /team\/app/);
  const pulled = await remote(['pull', `${registry.host}/team/app:v1`]);
  t.is(pulled.code, 0, pulled.stderr);
  t.regex((await remote(['images'])).stdout, /team\/app\s+v1/);

  const missing = await remote(['rmi', 'no-such-image:v9']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /no-such-image/);
  const du = await remote(['du', '--check']);
  t.is(du.code, 0, du.stderr);
  const prune = await remote(['prune', '-f']);
  t.is(prune.code, 0, prune.stderr);

  // The server's --cache-to default exported this build's cache: an empty store warms up from it.
  const cold = await freshStore();
  try {
    const warm = await tsbuild(['build', '--progress', 'plain', '--cache-from', `type=registry,ref=${registry.host}/team/cache:main`, ctx], { root: cold.root });
    t.is(warm.code, 0, warm.stderr);
    t.regex(warm.stderr, /RUN echo stored > \/stored.txt\n#\d+ CACHED/);
  } finally {
    await cold.dispose();
  }
});

it('commands that stay local say so in their help when --host is set', async (t) => {
  const help = await remote(['run', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /"run" runs on this machine/);
});
