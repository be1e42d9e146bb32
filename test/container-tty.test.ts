// `run -it`, detach keys and `attach`, driven under a real pseudo-terminal
// (util-linux `script`) the way a user types at one.
import test from 'ava';
import { existsSync } from 'node:fs';
import { tsbuildUnderPty } from './helpers/cli.js';
import { containerSuite } from './container-helpers.js';

const s = await containerSuite('tsbuild-tty-');
const noScript = !existsSync('/usr/bin/script') ? 'util-linux script is missing' : null;
const e2e = noScript ? (title: string, _fn: unknown) => test.skip(`${title} (skipped: ${noScript})`, () => {}) : s.e2e;

e2e('run -it: an interactive shell on a pty runs a command and exits with its code', async (t) => {
  const r = await tsbuildUnderPty(s.root, ['run', '-it', '--rm', 'busybox', 'sh'],
    ['echo "tty is $(tty), term $TERM"; exit 3\r']);
  t.is(r.code, 3, r.stdout);
  t.regex(r.stdout, /tty is \/dev\/pts\/0, term xterm/);
  t.is((await s.cli('ps', '-a', '-q')).stdout, '', '--rm removed the container');
});

e2e('run -it: ctrl-c reaches the shell as a key, not as a signal to tsbuild', async (t) => {
  const r = await tsbuildUnderPty(s.root, ['run', '-it', '--rm', 'busybox', 'sh'],
    ['sleep 30\r', '\x03', 'echo "after interrupt"; exit 0\r']);
  t.is(r.code, 0, r.stdout);
  t.regex(r.stdout, /after interrupt/);
});

e2e('run -dit, attach, ctrl-p ctrl-q detaches and leaves it running, attach again', async (t) => {
  const started = await s.cli('run', '-dit', '--name', 'shell', 'busybox', 'sh');
  t.is(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  // the empty chunks are pauses: the echo's output comes back before the detach keys go
  const first = await tsbuildUnderPty(s.root, ['attach', 'shell'], ['echo first-$((6*7))\r', '', '', '\x10\x11']);
  t.is(first.code, 0, first.stdout);
  t.regex(first.stdout, /first-42/);
  t.is(s.stateOf(id).status, 'running', 'still running after the detach keys');
  const second = await tsbuildUnderPty(s.root, ['attach', 'shell'], ['echo second; exit 7\r']);
  t.is(second.code, 7, second.stdout);
  t.regex(second.stdout, /second/);
  const after = await s.eventually(async () => s.stateOf(id), (st) => st.status === 'exited');
  t.is(after.exitCode, 7);
});

e2e('run -t without -i: output on a pty, no input', async (t) => {
  const r = await tsbuildUnderPty(s.root, ['run', '-t', '--rm', 'busybox', 'sh', '-c', 'test -t 1 && echo stdout-is-a-tty; exit 2'], []);
  t.is(r.code, 2);
  t.regex(r.stdout, /stdout-is-a-tty/);
});

e2e('run -it: the terminal size at start, and a window size change, reach the pty', async (t) => {
  // the outer terminal starts at 40x100 and grows to 50x120 while the shell sleeps (wide margins: a loaded machine starts slowly)
  const r = await tsbuildUnderPty(s.root, ['run', '-it', '--rm', 'busybox', 'sh'], ['stty size; sleep 8; stty size; exit 0\r'], 700,
    'stty rows 40 cols 100; (sleep 5; stty -F /dev/tty rows 50 cols 120) &');
  t.is(r.code, 0, r.stdout);
  const sizes = r.stdout.replace(/\r/g, '').split('\n').filter((l) => /^\d+ \d+$/.test(l));
  t.deepEqual(sizes, ['40 100', '50 120']);
});
