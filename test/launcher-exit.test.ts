// The launcher ends the process once a command succeeded and nothing it
// started is left (bin/tsbuild.js exitWhenIdle, or at once when nothing is
// left as the command resolves): what a slow reader has not taken from
// stdout yet is still delivered whole, as is all a no-op answered from the
// memo writes; a failing command keeps its exit code (it ends the natural
// way).
import { spawn } from 'node:child_process';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSkipReason, CLIENT_CACHE, storeSuite, TSBUILD_BIN, tsbuild } from './helpers/cli.js';
import { scratch } from './e2e-image-helpers.js';
import { runIf } from './helpers/skip.js';

const suite = storeSuite('launcher exit');
const it = runIf(buildSkipReason(), suite.it);

/** `tsbuild ARGS` with its stdout read only after `delayMs`, in 4 KB reads: the byte count and exit code. */
function slowlyRead(args: string[], delayMs: number): Promise<{ bytes: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSBUILD_BIN, ...args], {
      env: { ...process.env, TSBUILD_ROOT: suite.store.root, XDG_CACHE_HOME: CLIENT_CACHE, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let stderr = '';
    child.stdout.pause();
    setTimeout(() => {
      child.stdout.on('readable', () => {
        let chunk: Buffer | null;
        while ((chunk = child.stdout.read(4096)) !== null) bytes += chunk.length;
      });
    }, delayMs);
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ bytes, code, stderr }));
  });
}

it('an image saved to a pipe its reader drains late arrives whole; a failing command keeps its exit code', async (t) => {
  const dir = await scratch('tsbuild-exit-');
  const file = path.join(dir, 'busybox.tar');
  t.is((await tsbuild(['save', '-o', file, 'busybox:latest'], { root: suite.store.root })).code, 0);
  const expected = (await stat(file)).size;
  t.true(expected > 1 << 20, 'more than a pipe holds');
  const piped = await slowlyRead(['save', 'busybox:latest'], 500);
  t.is(piped.code, 0, piped.stderr);
  t.is(piped.bytes, expected);
  const failed = await slowlyRead(['save', 'no-such-image:latest'], 100);
  t.is(failed.code, 1);
  t.regex(failed.stderr, /No such image/);
});

it('a no-op answered from the memo ends at once with all it writes: the image id on stdout and in --iidfile', async (t) => {
  const dir = await scratch('tsbuild-exit-memo-');
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY f /f\n');
  await writeFile(path.join(dir, 'f'), 'memo\n');
  // Outside the context: a file written into it would change it.
  const iidFile = path.join(await scratch('tsbuild-exit-iid-'), 'iid');
  const args = ['build', '-q', '--iidfile', iidFile, dir];
  const first = await tsbuild(args, { root: suite.store.root });
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /^sha256:[0-9a-f]{64}\n$/);
  // Files this recent are not recorded; the first no-op once they are older records its answer.
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.is((await tsbuild(args, { root: suite.store.root })).stdout, first.stdout);
  for (let i = 0; i < 3; i++) {
    await rm(iidFile);
    const again = await tsbuild(args, { root: suite.store.root, env: { TSBUILD_MEMO_DEBUG: '1' } });
    t.is(again.code, 0, again.stderr);
    t.regex(again.stderr, /answered from the local memo/);
    t.is(again.stdout, first.stdout);
    t.is(await readFile(iidFile, 'utf8'), first.stdout.trim());
  }
});

/** `tsbuild ARGS` whose stdout's reader goes away after its first chunk (`| head -c 1`): exit code and stderr. */
function readerGoesAway(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSBUILD_BIN, ...args], {
      env: { ...process.env, TSBUILD_ROOT: suite.store.root, XDG_CACHE_HOME: CLIENT_CACHE, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stdout.once('data', () => child.stdout.destroy());
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

it('a reader of stdout that goes away ends the command quietly with 141, as SIGPIPE ends docker', async (t) => {
  for (const args of [['save', 'busybox:latest'], ['inspect', ...Array<string>(300).fill('busybox:latest')]]) {
    const r = await readerGoesAway(args);
    t.is(r.code, 141, `${args[0]}: ${r.stderr}`);
    t.is(r.stderr, '', args[0]);
  }
});
