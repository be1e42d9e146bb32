import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import type { Vertex } from '../builder/solver/vertex.js';
import { TtyProgressWriter } from '../builder/progress/tty.js';
import { createProgress } from '../builder/progress/index.js';

// A terminal-like stream: it collects the raw text, and `screen()` replays it
// the way a terminal would (cursor-up can not go above the visible screen,
// erase-line, erase-down), so a redraw bug shows up as leftover lines.
class FakeTerminal {
  readonly isTTY = true;
  raw = '';
  constructor(
    readonly columns = 80,
    readonly rows = 40,
  ) {}
  write(chunk: string, cb?: () => void): boolean {
    this.raw += chunk;
    cb?.();
    return true;
  }
  screen(): string[] {
    const buf: string[] = [''];
    let row = 0;
    let col = 0;
    const text = this.raw;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === '\x1b') {
        const m = /^\x1b\[(\d*)([A-Za-z])/.exec(text.slice(i));
        if (!m) throw new Error(`unknown escape at ${i}: ${JSON.stringify(text.slice(i, i + 8))}`);
        i += m[0].length - 1;
        const n = m[1] === '' ? 1 : Number(m[1]);
        if (m[2] === 'A') row = Math.max(row - n, Math.max(0, buf.length - this.rows));
        else if (m[2] === 'K') buf[row] = '';
        else if (m[2] === 'J') buf.length = row + 1, (buf[row] = buf[row].slice(0, col));
        else if (m[2] !== 'm') throw new Error(`unexpected escape ${m[0]}`);
      } else if (ch === '\r') col = 0;
      else if (ch === '\n') {
        row++;
        col = 0;
        if (row >= buf.length) buf.push('');
      } else {
        buf[row] = buf[row].slice(0, col) + ch + buf[row].slice(col + 1);
        col++;
      }
    }
    return buf.filter((l, i) => i < buf.length - 1 || l !== '');
  }
}

function vertex(name: string): Vertex<unknown> {
  return { name, inputs: [], describe: () => ({ name }), exec: async () => undefined };
}

const K = 'sha256:0';

test('tty: live redraws leave exactly the final view, every step named', async (t) => {
  const term = new FakeTerminal();
  const clock = { t: 0 };
  const p = new TtyProgressWriter(term, { color: true, now: () => clock.t });
  const a = vertex('[build 1/4] FROM docker.io/library/alpine:3.20');
  const b = vertex('[build 2/4] RUN make');
  const c = vertex('[build 3/4] RUN make test');
  p.info('[internal] load build definition from Dockerfile');
  p.onEvent({ type: 'cached', vertex: a, key: K });
  p.onEvent({ type: 'start', vertex: b, key: K });
  p.onEvent({ type: 'start', vertex: c, key: K });
  for (let i = 0; i < 10; i++) {
    clock.t += 100;
    p.onEvent({ type: 'log', vertex: b, stream: 'stdout', data: `\x1b[32mcompiling ${i}\x1b[0m\tfile.c\n` });
    p.onEvent({ type: 'log', vertex: c, stream: 'stderr', data: `progress ${i}%\r` });
    await sleep(30);
  }
  await sleep(150);
  const live = stripVTControlCharacters(term.raw);
  t.regex(live, /=> => # compiling 9 {4}file\.c/, 'the running step shows its output tail');
  t.false(term.raw.includes('\x1b[32m'), "the command's own colour codes are not passed to the view");
  p.onEvent({ type: 'done', vertex: b, key: K, ms: 1234 });
  p.onEvent({ type: 'done', vertex: c, key: K, ms: 1500 });
  const exp = p.task('exporting to image');
  exp.log('writing image sha256:abc done');
  exp.done();
  await p.close({ ok: true });

  const screen = term.screen().map((l) => stripVTControlCharacters(l));
  t.is(screen.length, 7, screen.join('\n'));
  t.regex(screen[0], /^\[\+\] Building \d+\.\ds \(5\/5\) FINISHED$/);
  t.regex(screen[1], /^ => \[internal\] load build definition from Dockerfile +0\.0s$/);
  t.regex(screen[2], /^ => CACHED \[build 1\/4\] FROM docker\.io\/library\/alpine:3\.20 +0\.0s$/);
  t.regex(screen[3], /^ => \[build 2\/4\] RUN make +1\.2s$/);
  t.regex(screen[4], /^ => \[build 3\/4\] RUN make test +1\.5s$/);
  t.regex(screen[5], /^ => exporting to image +\d\.\ds$/);
  t.is(screen[6], ' => => writing image sha256:abc done');
  for (const line of screen) {
    t.false(line.includes('\x1b'), 'no escape sequence left after stripping');
    t.true(line.length < 80, 'no line wider than the terminal');
  }
  t.true(term.raw.includes('\x1b[3'), 'colours are used when asked for');
});

test('tty: on failure the failing step output is printed in full after the view', async (t) => {
  const term = new FakeTerminal();
  const clock = { t: 0 };
  const p = new TtyProgressWriter(term, { color: false, now: () => clock.t });
  const a = vertex('[b 1/1] RUN ./configure && make');
  p.onEvent({ type: 'start', vertex: a, key: K });
  for (let i = 0; i < 20; i++) {
    clock.t += 10;
    p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: `out ${i}\n` });
  }
  await sleep(120);
  p.onEvent({ type: 'error', vertex: a, key: K, error: new Error('exit code: 2') });
  await p.close({ ok: false });
  t.false(term.raw.includes('\x1b[3'), 'color: false means no colour codes');
  const screen = term.screen();
  t.regex(screen[0], /^\[\+\] Building 0\.2s \(1\/1\)$/);
  t.regex(screen[1], /^ => ERROR \[b 1\/1\] RUN \.\/configure && make +0\.2s$/);
  t.deepEqual(screen.slice(2), [
    '------',
    ' > [b 1/1] RUN ./configure && make:',
    ...Array.from({ length: 20 }, (_, i) => `${((i + 1) * 0.01).toFixed(3)} out ${i}`),
    '------',
  ]);
});

test('tty: a view taller than the screen still redraws in place', async (t) => {
  const term = new FakeTerminal(60, 8);
  const clock = { t: 0 };
  const p = new TtyProgressWriter(term, { color: false, now: () => clock.t });
  for (let i = 0; i < 20; i++) p.onEvent({ type: 'cached', vertex: vertex(`[s ${i}/20] RUN step ${i}`), key: K });
  const last = vertex('[s 20/20] RUN long');
  p.onEvent({ type: 'start', vertex: last, key: K });
  for (let i = 0; i < 3; i++) {
    clock.t += 100;
    p.onEvent({ type: 'log', vertex: last, stream: 'stdout', data: `line ${i}\n` });
    await sleep(120);
  }
  p.onEvent({ type: 'done', vertex: last, key: K, ms: 300 });
  await p.close({ ok: true });
  const screen = term.screen();
  t.is(screen.filter((l) => l.startsWith('[+] Building')).length, 1, screen.join('\n'));
  t.is(screen.length, 22);
  t.false(screen.some((l) => l.includes('=> => #')), 'no output tail left in the final view');
  for (let i = 0; i < 20; i++) t.true(screen.some((l) => l.includes(`RUN step ${i}`)));
});

test('tty: long names are cut to the terminal width', async (t) => {
  const term = new FakeTerminal(40, 20);
  const p = new TtyProgressWriter(term, { color: false, now: () => 0 });
  p.onEvent({ type: 'cached', vertex: vertex(`[a 1/1] RUN ${'x'.repeat(100)}`), key: K });
  await p.close();
  const line = term.screen()[1];
  t.true(line.length <= 39, line);
  t.regex(line, /^ => CACHED \[a 1\/1\] RUN x+\.\.\. 0\.0s$/);
});

test('tty: a build that ends before its first step prints no view, only the warnings', async (t) => {
  const term = new FakeTerminal();
  const p = new TtyProgressWriter(term, { color: false, now: () => 0 });
  p.warn('FromAsCasing: mixed case');
  await sleep(150);
  await p.close({ ok: false });
  t.deepEqual(term.screen(), ['1 warning found:', ' - FromAsCasing: mixed case']);
});

test('createProgress auto picks the tty view on an interactive terminal outside CI', async (t) => {
  const p = createProgress('auto', new FakeTerminal(), { env: {} });
  t.true(p instanceof TtyProgressWriter);
  await p.close();
  t.false(createProgress('auto', new FakeTerminal(), { env: { CI: '1' } }) instanceof TtyProgressWriter);
  t.false(createProgress('auto', new FakeTerminal(), { env: { TERM: 'dumb' } }) instanceof TtyProgressWriter);
});
