// The launcher ends the process once a command succeeded and nothing it
// started is left (bin/tsbuild.js exitWhenIdle): what a slow reader has not
// taken from stdout yet is still delivered whole; a failing command keeps
// its exit code (it ends the natural way).
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
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
