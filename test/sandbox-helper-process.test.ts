// Helper processes started by the native addon's posix_spawn
// (runner-native/helper-process.ts, addon/spawn.c): each of its first fds is
// a socket to us, it is reaped and its end reported (code or signal), and a
// program that does not exist is reported as child_process reports it.
import test from 'ava';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { spawnHelperProcess, type HelperEnd } from '../runner-native/helper-process.js';
import { nativeAddon } from '../runner-native/native-addon.js';

function ended(h: ReturnType<typeof spawnHelperProcess>): Promise<HelperEnd> {
  return new Promise((resolve) => h.onEnd(resolve));
}

async function readAll(s: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  await once(s, 'close');
  return Buffer.concat(chunks).toString();
}

test('the addon is built, starts a program and reaps it', (t) => {
  const addon = nativeAddon();
  t.truthy(addon, 'runner-native/build/tsbuild-addon.node loads');
  const [pid, ...fds] = addon!.spawn(['/bin/true'], 3);
  t.true(pid! > 0);
  t.is(fds.length, 3);
  for (const fd of fds) closeSync(fd!);
  let status = addon!.reap(pid!);
  for (const deadline = Date.now() + 5000; !status && Date.now() < deadline;) status = addon!.reap(pid!);
  t.deepEqual(status, [0, 0]);
  t.throws(() => addon!.spawn(['/no/such/program'], 3), { code: 'ENOENT' });
});

test('a helper talks on its sockets, fds 0 to 3, and its exit code is reported once it ended', async (t) => {
  const h = spawnHelperProcess('/bin/sh', ['-c', 'read line; echo "out:$line"; echo err >&2; echo three >&3; exit 7'], 4);
  t.true(h.pid > 0);
  const [stdin, stdout, stderr, fd3] = h.stdio;
  const out = readAll(stdout!);
  const err = readAll(stderr!);
  const three = readAll(fd3!);
  stdin!.end('hello\n');
  t.deepEqual(await ended(h), { code: 7, signal: null });
  t.is(await out, 'out:hello\n');
  t.is(await err, 'err\n');
  t.is(await three, 'three\n');
  // Reaped: no zombie of it is left.
  t.throws(() => process.kill(h.pid, 0), { code: 'ESRCH' });
});

test('a helper killed by a signal reports the signal', async (t) => {
  const h = spawnHelperProcess('/bin/sh', ['-c', 'kill -TERM $$; sleep 5'], 3);
  t.deepEqual(await ended(h), { code: null, signal: 'SIGTERM' });
});

test('a program that does not exist ends with ENOENT', async (t) => {
  const h = spawnHelperProcess('/no/such/helper', [], 3);
  const end = await ended(h);
  t.is(end.error?.code, 'ENOENT');
});
