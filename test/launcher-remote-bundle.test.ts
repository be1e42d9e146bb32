// With --host (or TSBUILD_HOST) the launcher runs the remote client's own
// small bundle: a build through a server must never load the full CLI
// (the local builder), and what runs on this machine must still be the
// full CLI's, unchanged. Which bundles a command compiled is seen from
// inside its process: a preloaded module notes every vm.Script the
// launcher makes.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tsbuild, tempDir } from './helpers/cli.js';
import { serverSuite } from './helpers/server-suite.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = serverSuite('the remote client bundle');

const NOTE_SCRIPTS = `
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
vm.Script = class extends vm.Script {
  constructor(code, options) {
    super(code, options);
    fs.appendFileSync(process.env.BUNDLE_LOG, path.basename(options.filename) + '\\n');
  }
};
`;

async function client(dir: string) {
  const preload = path.join(dir, 'note-scripts.cjs');
  await writeFile(preload, NOTE_SCRIPTS);
  const root = await tempDir('tsbuild-client-');
  let runs = 0;
  return async (args: string[]) => {
    const log = path.join(dir, `bundles-${runs++}.txt`);
    const r = await tsbuild(['--host', suite.host, ...args], { root, env: { NODE_OPTIONS: `--require ${preload}`, BUNDLE_LOG: log } });
    return { ...r, bundles: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] };
  };
}

suite.it('a build through a server runs from the remote bundle alone; a local command from the full CLI after it', async (t) => {
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

  // Help for a command that runs here: the full CLI's text and the note that it runs here.
  const ps = await run(['ps', '--help']);
  t.is(ps.code, 0, ps.stderr);
  t.regex(ps.stdout, /^Usage: {2}tsbuild ps/);
  t.regex(ps.stdout, /--host is set, but "ps" runs on this machine/);
  t.deepEqual(ps.bundles, ['tsbuild-remote.cjs', 'tsbuild.cjs']);

  // A bad global flag is reported by the remote bundle as the full CLI reports it.
  const bad = await run(['--tlscacert']);
  t.is(bad.code, 1);
  t.is(bad.stderr.trim(), 'ERROR: flag needs an argument: --tlscacert');
  t.deepEqual(bad.bundles, ['tsbuild-remote.cjs']);
});
