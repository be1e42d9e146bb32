import test from 'ava';
import { LineSplitter } from '../builder/progress/line-splitter.js';
import { colorLevel } from '../builder/progress/color.js';
import { parseProgressMode, resolveProgressMode, ProgressError } from '../builder/progress/index.js';
import { Solver } from '../builder/solver/solver.js';
import type { Vertex } from '../builder/solver/vertex.js';
import { PlainProgressWriter } from '../builder/progress/plain.js';

test('line splitter: keeps partial lines and split characters until completed', (t) => {
  const s = new LineSplitter();
  const euro = Buffer.from('€');
  t.deepEqual(s.push(Buffer.concat([Buffer.from('a\nb'), euro.subarray(0, 1)])), ['a']);
  t.true(s.hasPartial);
  t.deepEqual(s.push(Buffer.concat([euro.subarray(1), Buffer.from('\r\nc')])), ['b€']);
  t.is(s.flush(), 'c');
  t.is(s.flush(), undefined);
});

test('color level: explicit option, FORCE_COLOR, NO_COLOR, terminal', (t) => {
  const tty = { isTTY: true, write: () => true, getColorDepth: () => 8 };
  const pipe = { write: () => true };
  t.is(colorLevel(tty, {}), 2);
  t.is(colorLevel(tty, { NO_COLOR: '1' }), 0);
  t.is(colorLevel(tty, { NO_COLOR: '' }), 2, 'an empty NO_COLOR does not count');
  t.is(colorLevel(pipe, {}), 0);
  t.is(colorLevel(pipe, { FORCE_COLOR: '3' }), 3);
  t.is(colorLevel(tty, { FORCE_COLOR: '1', NO_COLOR: '1' }), 1, 'FORCE_COLOR wins over NO_COLOR');
  t.is(colorLevel(tty, { FORCE_COLOR: '0' }), 0);
  t.is(colorLevel(tty, {}, false), 0);
  t.is(colorLevel(pipe, { NO_COLOR: '1' }, true), 1);
});

test('progress mode: parsing and auto resolution', (t) => {
  t.is(parseProgressMode('rawjson'), 'rawjson');
  const err = t.throws(() => parseProgressMode('fancy'), { instanceOf: ProgressError });
  t.is(err.code, 'INVALID_PROGRESS_MODE');
  t.true(err.userError);
  t.is(resolveProgressMode('auto', { isTTY: true, write: () => true }, {}), 'tty');
  t.is(resolveProgressMode('auto', { isTTY: true, write: () => true }, { CI: 'true' }), 'plain');
  t.is(resolveProgressMode('auto', { isTTY: true, write: () => true }, { CI: 'false' }), 'tty');
  t.is(resolveProgressMode('auto', { write: () => true }, {}), 'plain');
  t.is(resolveProgressMode('tty', { write: () => true }, {}), 'tty', 'an explicit mode is honoured');
});

test('plain writer driven by the real solver: parallel logs, failure, cancellation', async (t) => {
  let text = '';
  const p = new PlainProgressWriter({ write: (c: string, cb?: () => void) => ((text += c), cb?.(), true) });
  const leaf = (name: string, lines: string[], fail = false): Vertex<number> => ({
    name,
    inputs: [],
    describe: () => ({ name }),
    exec: async ({ log, signal }) => {
      for (const l of lines) {
        log('stdout', l);
        await new Promise((r) => setTimeout(r, 5));
      }
      if (fail) throw new Error('exit code: 1');
      await new Promise((r, reject) => {
        const timer = setTimeout(r, 2000);
        signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
      });
      return 1;
    },
  });
  const slow = leaf('[a 1/1] RUN slow', ['a1\n', 'a2\n']);
  const failing = leaf('[b 1/1] RUN false', ['b1\n', 'b2'], true);
  const solver = new Solver<number>({ jobs: 2, onEvent: p.onEvent });
  await t.throwsAsync(solver.solve([slow, failing]));
  await p.close({ ok: false });
  const lines = text.split('\n').filter(Boolean);
  t.true(lines.includes('#2 ERROR: exit code: 1'), text);
  t.true(lines.includes('#1 CANCELED'), text);
  t.true(lines.some((l) => /^#2 \d\.\d{3} b2$/.test(l)), 'the unterminated last line is printed at the end of the step');
  t.true(lines.some((l) => /^#1 \d\.\d{3} a2$/.test(l)));
  t.true(lines.every((l) => /^(#\d |------| > |\d\.\d{3} )/.test(l)), text);
});
