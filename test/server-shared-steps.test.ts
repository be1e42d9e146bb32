// Builds of different clients on one server that need the same step at the
// same moment run it once: one client's progress shows it executed, the
// others' show it CACHED. A client killed while it owns the step leaves a
// waiting client to run it itself; one killed while waiting affects nobody.
//
// The shared step holds until the test opens its gate (helpers/serve.ts),
// so every client provably reached the step while it still ran.
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tempDir, TSBUILD_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { gatedRun } from './helpers/serve.js';
import { serverSuite } from './helpers/server-suite.js';
import { makeContext } from './e2e-image-helpers.js';

const suite = serverSuite('server shared steps', ['--max-parallelism', '4']);
const { it } = suite;

interface Vertex { digest: string; name?: string; started?: string; completed?: string; cached?: boolean; error?: string }
interface Record { vertexes?: Vertex[]; logs?: { vertex?: string; data: string }[] }

/** A client building with rawjson progress; what its stream showed so far is parsed on demand. */
function startClient(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [TSBUILD_BIN, '--host', suite.host, 'build', '--progress', 'rawjson', ...args], {
    cwd: PROJECT_ROOT, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const records = (): Record[] => err.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record];
    } catch {
      return [];
    }
  });
  /** The records of the vertex whose name contains `marker`, and its output. */
  const step = (marker: string) => {
    const all = records();
    const vertexes = all.flatMap((r) => r.vertexes ?? []).filter((v) => v.name?.includes(marker));
    const digests = new Set(vertexes.map((v) => v.digest));
    const output = all.flatMap((r) => r.logs ?? []).filter((l) => l.vertex && digests.has(l.vertex)).map((l) => Buffer.from(l.data, 'base64').toString()).join('');
    return {
      seen: vertexes.length > 0,
      cached: vertexes.some((v) => v.cached === true),
      executed: output.includes('running-'),
      completedOk: vertexes.some((v) => v.completed !== undefined && v.error === undefined),
      output,
    };
  };
  return { child, exited, step, text: () => err };
}

async function until(what: string, cond: () => boolean, clients: { text(): string }[]): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}:\n${clients.map((c) => c.text().slice(-2000)).join('\n----\n')}`);
}

const gatedStep = (nonce: string) => gatedRun(suite.store.root, nonce);

/** The FROM step (cached or pulled) is done: the next thing the build does is the gated step. */
const pastFrom = (c: ReturnType<typeof startClient>) => c.step('FROM docker.io/library/busybox').completedOk;

// Room for a client whose FROM is done to look the gated step up (a cache
// lookup): it only makes the test stricter, never flaky.
const SETTLE_MS = 1500;

it('a step four clients need at the same moment runs once; the others show it cached', async (t) => {
  const nonce = randomBytes(6).toString('hex');
  const gate = gatedStep(nonce);
  const clients = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const ctx = await makeContext({ Dockerfile: `FROM busybox:latest\n${gate.run}\nRUN echo client-${i} > /own.txt\n` });
    const out = path.join(await tempDir(), 'out');
    return { i, out, client: startClient(['-t', `shared:${i}`, '-o', 'type=image', '-o', `type=local,dest=${out}`, ctx]) };
  }));
  const all = clients.map((c) => c.client);
  await until('one client running the shared step', () => all.some((c) => c.step(gate.marker).executed), all);
  await until('every client past FROM', () => all.every(pastFrom), all);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  // Still held at the gate: every client reached the step while it ran.
  t.false(all.some((c) => c.step(gate.marker).completedOk));
  await gate.open();
  const codes = await Promise.all(all.map((c) => c.exited));
  for (const { i, out, client } of clients) {
    t.is(codes[i], 0, client.text().slice(-3000));
    t.is(await readFile(path.join(out, 'own.txt'), 'utf8'), `client-${i}\n`);
    t.is(await readFile(path.join(out, 'shared.txt'), 'utf8'), `shared-${nonce}\n`);
  }
  const steps = all.map((c) => c.step(gate.marker));
  t.is(steps.filter((s) => s.executed).length, 1, 'exactly one client ran the shared step');
  t.is(steps.filter((s) => s.cached && !s.executed).length, 3, 'the three others show it CACHED');
  const check = await suite.remote(['du', '--check']);
  t.is(check.code, 0, check.stdout + check.stderr);
});

it('killing the client that owns the step lets a waiting client run it itself; killing a waiter affects nobody', async (t) => {
  const nonce = randomBytes(6).toString('hex');
  const gate = gatedStep(nonce);
  const dockerfile = `FROM busybox:latest\n${gate.run}\n`;
  const owner = startClient([await makeContext({ Dockerfile: dockerfile })]);
  await until('the first client running the step', () => owner.step(gate.marker).executed, [owner]);
  const out = path.join(await tempDir(), 'out');
  const waiter = startClient(['-o', `type=local,dest=${out}`, await makeContext({ Dockerfile: dockerfile })]);
  const quitter = startClient([await makeContext({ Dockerfile: dockerfile })]);
  await until('both later clients past FROM', () => pastFrom(waiter) && pastFrom(quitter), [owner, waiter, quitter]);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  t.false(waiter.step(gate.marker).executed, 'the second client waits instead of running the step');
  t.false(quitter.step(gate.marker).executed, 'the third client waits instead of running the step');

  // A waiter that goes changes nothing for the others.
  quitter.child.kill('SIGKILL');
  await quitter.exited;
  // The owner goes: its build is canceled on the server, and the waiter takes over.
  owner.child.kill('SIGKILL');
  await owner.exited;
  await until('the waiting client running the step itself', () => waiter.step(gate.marker).executed, [waiter]);
  await gate.open();
  t.is(await waiter.exited, 0, waiter.text().slice(-3000));
  t.false(waiter.step(gate.marker).cached);
  t.is(await readFile(path.join(out, 'shared.txt'), 'utf8'), `shared-${nonce}\n`);
  t.true(gate.opened());
  const check = await suite.remote(['du', '--check']);
  t.is(check.code, 0, check.stdout + check.stderr);
  t.notRegex(suite.server.log(), /internal error/);
});
