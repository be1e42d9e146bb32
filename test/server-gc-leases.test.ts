// A server enforcing a tiny cache size limit after every build: a build
// that finishes while another still runs must not collect what the other
// has built so far (its leases count, though they are this process's own).
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tempDir, TSBUILD_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { gatedRun } from './helpers/serve.js';
import { serverSuite } from './helpers/server-suite.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = serverSuite('server size limit and running builds', [], { TSBUILD_GC_KEEP_STORAGE: '1' });
const { it } = suite;

it('the size limit after one build leaves alone what a running build made', async (t) => {
  const nonce = randomBytes(6).toString('hex');
  const gate = gatedRun(suite.store.root, nonce);
  // B makes a layer only its cache entry holds, then holds in its gated step.
  const ctxB = await makeContext({ Dockerfile: `FROM busybox:latest\nRUN echo own-${nonce} > /own.txt\n${gate.run}\n` });
  const out = path.join(await tempDir(), 'out');
  const b = spawn(process.execPath, [TSBUILD_BIN, '--host', suite.host, 'build', '--progress', 'plain', '-o', `type=local,dest=${out}`, ctxB], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  b.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => b.once('exit', resolve));
  for (let i = 0; i < 1200 && !log.includes(`running-${nonce}`); i++) await new Promise((r) => setTimeout(r, 100));
  t.true(log.includes(`running-${nonce}`), log);

  // A finishes meanwhile; the limit (1 byte) would remove every cache entry.
  const a = await suite.remote(['build', '--progress', 'plain', await makeContext({ Dockerfile: `FROM busybox:latest\nRUN echo a-${nonce} > /a.txt\n` })]);
  t.is(a.code, 0, a.stderr);
  t.notRegex(a.stderr, /cache size limit/);

  await gate.open();
  t.is(await exited, 0, log);
  t.is(await readFile(path.join(out, 'own.txt'), 'utf8'), `own-${nonce}\n`);
  t.is(await readFile(path.join(out, 'shared.txt'), 'utf8'), `shared-${nonce}\n`);
  const check = await suite.remote(['du', '--check']);
  t.is(check.code, 0, check.stdout + check.stderr);
});
