// The contexts a server keeps for its clients are build cache: `du` counts
// them (locally on the server's store and with --host), `prune` reclaims
// them, and a prune started while a build runs waits for it, so the build's
// context is never taken from under it.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, lstat, lutimes } from 'node:fs/promises';
import { tsbuild, tempDir, TSBUILD_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { gatedRun } from './helpers/serve.js';
import { serverSuite } from './helpers/server-suite.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = serverSuite('server context cache');
const { it } = suite;

const { remote } = suite;
const localDuJson = async () => JSON.parse((await tsbuild(['du', '--format', 'json'], { root: suite.store.root })).stdout) as { contextCache: { count: number; bytes: number; reclaimableBytes: number } };

/** As if everything the server keeps of its clients' contexts was last used a day ago. */
async function ageContextCache(dir: string): Promise<void> {
  const dayAgo = new Date(Date.now() - 24 * 3_600_000);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const p = path.join(dir, name);
    const st = await lstat(p);
    if (st.isDirectory()) await ageContextCache(p);
    await lutimes(p, dayAgo, dayAgo);
  }
}

it('du counts the synced contexts, prune reclaims them but waits for a running build, which keeps its context', async (t) => {
  const first = await makeContext({ Dockerfile: 'FROM busybox:latest\nCOPY data.txt /data.txt\n', 'data.txt': randomBytes(200_000).toString('hex') });
  const built = await remote(['build', '-q', first]);
  t.is(built.code, 0, built.stderr);
  const du = await remote(['du']);
  t.regex(du.stdout, /Client contexts\s+1\s+\S+/);
  const local = await localDuJson();
  t.is(local.contextCache.count, 1);
  t.true(local.contextCache.bytes >= 400_000, `${local.contextCache.bytes} bytes`);

  // A build that holds in its RUN, then copies a file of its context.
  const nonce = randomBytes(6).toString('hex');
  const gate = gatedRun(suite.store.root, nonce);
  const data = `data-${nonce}\n`;
  const second = await makeContext({ Dockerfile: `FROM busybox:latest\n${gate.run}\nCOPY data.txt /data.txt\n`, 'data.txt': data });
  const out = path.join(await tempDir(), 'out');
  const build = spawn(process.execPath, [TSBUILD_BIN, '--host', suite.host, 'build', '--progress', 'plain', '-o', `type=local,dest=${out}`, second], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  build.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const built2 = new Promise<number | null>((resolve) => build.once('exit', resolve));
  for (let i = 0; i < 1200 && !log.includes(`running-${nonce}`); i++) await new Promise((r) => setTimeout(r, 100));
  t.true(log.includes(`running-${nonce}`), log);

  // Everything is old now: only the running build protects its context.
  await ageContextCache(path.join(suite.store.root, 'context'));
  let pruneDone = false;
  const pruning = remote(['prune', '-a', '-f']).then((r) => {
    pruneDone = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 1500));
  t.false(pruneDone, 'prune waits for the running build');
  await gate.open();
  t.is(await built2, 0, log);
  t.is(await readFile(path.join(out, 'data.txt'), 'utf8'), data);
  const pruned = await pruning;
  t.is(pruned.code, 0, pruned.stderr);
  t.regex(pruned.stdout, /[12] client contexts, [1-9]\d* context files/);
  t.regex(pruned.stderr, /waiting for/);
  t.is((await localDuJson()).contextCache.count, 0);
  t.notRegex((await remote(['du'])).stdout, /Client contexts/);

  // The next build of a pruned context sends its files again and works.
  const rebuilt = await remote(['build', '-q', first]);
  t.is(rebuilt.code, 0, rebuilt.stderr);
  const check = await remote(['du', '--check']);
  t.is(check.code, 0, check.stdout + check.stderr);
});
