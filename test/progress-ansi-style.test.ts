// The tty view's colours (builder/progress/ansi-style.ts) are written
// exactly as chalk 5, which the view used before, writes them: the same
// bytes on the terminal at every colour level, for text with line breaks,
// colour codes of its own and nothing at all.
import test from 'ava';
import { Chalk } from 'chalk';
import { viewStyles } from '../builder/progress/ansi-style.js';
import type { ColorLevel } from '../builder/progress/color.js';

const SAMPLES = [
  '',
  'plain',
  '#3 [2/5] RUN make',
  'two\nlines',
  'windows\r\nline\r\n',
  'trailing\n',
  '\nleading',
  '\n\n',
  'a\r\r\nb',
  `already \x1b[31mred\x1b[39m and \x1b[2mdim\x1b[22m inside`,
  `nested \x1b[34mblue\x1b[39m\nacross \x1b[33mlines\x1b[39m`,
  '\x1b',
  'unicode ✓ → 名前',
];

for (const level of [0, 1, 2, 3] as ColorLevel[]) {
  test(`level ${level}: the same bytes as chalk`, (t) => {
    const chalk = new Chalk({ level });
    const ours = viewStyles(level);
    for (const name of ['red', 'yellow', 'blue', 'dim'] as const) {
      for (const text of SAMPLES) t.is(ours[name](text), chalk[name](text), `${name} ${JSON.stringify(text)}`);
    }
  });
}

test('the tty view does not import chalk', async (t) => {
  const { readFile } = await import('node:fs/promises');
  for (const file of ['tty.ts', 'tty-render.ts']) {
    const source = await readFile(new URL(`../../builder/progress/${file}`, import.meta.url), 'utf8');
    t.false(/from 'chalk'/.test(source), file);
  }
});
