// With --host (or TSBUILD_HOST) the launcher runs the remote client's own
// small bundle: a build through a server must never load the full CLI
// (the local builder), and what runs on this machine must still be the
// full CLI's, unchanged. Which bundles a command compiled is seen from
// inside its process: a preloaded module notes every vm.Script the
// launcher makes.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT, tsbuild, tempDir } from './helpers/cli.js';
import { serverSuite } from './helpers/server-suite.js';
import { bundleLog } from './helpers/bundle-log.js';
import { makeContext } from './e2e-image-helpers.js';
import { runsRemotely } from '../builder/cli/remote-dispatch.js';
import { REMOTE_COMMANDS } from '../builder/remote/protocol.js';

const suite = serverSuite('the remote client bundle');


async function client(dir: string) {
  const root = await tempDir('tsbuild-client-');
  let runs = 0;
  return async (args: string[]) => {
    const noted = bundleLog(dir, path.join(dir, `bundles-${runs++}.txt`));
    const r = await tsbuild(['--host', suite.host, ...args], { root, env: noted.env });
    return { ...r, bundles: noted.bundles() };
  };
}

suite.it('a build through a server runs from the remote bundle alone; what runs here, from the full CLI', async (t) => {
  const dir = await tempDir('tsbuild-remote-bundle-');
  const run = await client(dir);
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY hello.txt /hello.txt\n', 'hello.txt': 'hello from the client\n' });
  for (const attempt of ['first', 'no-op']) {
    const out = path.join(dir, `out-${attempt}`);
    const build = await run(['build', '--progress=plain', '-o', `type=local,dest=${out}`, ctx]);
    t.is(build.code, 0, build.stderr);
    t.is(await readFile(path.join(out, 'hello.txt'), 'utf8'), 'hello from the client\n', attempt);
    t.deepEqual(build.bundles, ['tsbuild-remote.cjs'], attempt);
  }

  // build's help is the same everywhere: shown here, by the full CLI.
  const help = await run(['build', '--help']);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^Usage: {2}tsbuild build/);
  t.deepEqual(help.bundles, ['tsbuild-remote.cjs', 'tsbuild.cjs']);

  // A bad flag of a remote command is reported as the full CLI reports it, without it.
  const bad = await run(['build', '--no-such-flag', ctx]);
  t.is(bad.code, 1);
  t.is(bad.stderr.trim(), 'ERROR: unknown flag: --no-such-flag');
  t.deepEqual(bad.bundles, ['tsbuild-remote.cjs']);

  // A command that runs here starts the full CLI alone, and its help says it runs here.
  const ps = await run(['ps', '--help']);
  t.is(ps.code, 0, ps.stderr);
  t.regex(ps.stdout, /^Usage: {2}tsbuild ps/);
  t.regex(ps.stdout, /--host is set, but "ps" runs on this machine/);
  t.deepEqual(ps.bundles, ['tsbuild.cjs']);

  // docker's spelling of a store command runs on the server, from the remote bundle too.
  const listing = ['--format', '{{.Repository}}:{{.Tag}} {{.ID}}'];
  const images = await run(['images', ...listing]);
  const imageLs = await run(['image', 'ls', ...listing]);
  t.is(imageLs.code, 0, imageLs.stderr);
  t.is(imageLs.stdout, images.stdout);
  t.deepEqual(imageLs.bundles, ['tsbuild-remote.cjs']);
});

// The launcher picks the bundle from its own list of the commands that run
// on a server: the same as the CLI's, or a remote command starts slower.
test("the launcher's list of server commands is the CLI's", (t) => {
  const launcher = readFileSync(path.join(PROJECT_ROOT, 'bin', 'tsbuild.js'), 'utf8');
  const listed = /const REMOTE_COMMANDS = new Set\(\[([^\]]*)\]\)/.exec(launcher)?.[1];
  t.truthy(listed, 'bin/tsbuild.js names its REMOTE_COMMANDS');
  const names = [...listed!.matchAll(/'([a-z]+)'/g)].map((m) => m[1]!).sort();
  t.deepEqual(names, ['build', 'version', ...REMOTE_COMMANDS].sort());
  for (const name of names) t.true(runsRemotely(name), name);
});
