import test from 'ava';
import { FakeStream, vertex } from './helpers/progress-fakes.js';
import { PlainProgressWriter } from '../builder/progress/plain.js';
import { createProgress } from '../builder/progress/index.js';

// A collecting stream, and a clock the test moves by hand.
function setup(opts: { maxLogLines?: number } = {}) {
  const out = new FakeStream();
  const clock = { t: 10_000 };
  const p = new PlainProgressWriter(out, { ...opts, now: () => clock.t });
  return { out, clock, p };
}

const K = 'sha256:0';

test('plain: steps, prefixed output, DONE and CACHED in BuildKit format', async (t) => {
  const { out, clock, p } = setup();
  const a = vertex('[a 1/2] RUN x');
  const b = vertex('[a 2/2] COPY . .');
  p.onEvent({ type: 'start', vertex: a, key: K });
  clock.t += 123;
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'hello\n' });
  clock.t += 1000;
  p.onEvent({ type: 'log', vertex: a, stream: 'stderr', data: Buffer.from('warn: x\n') });
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 100 });
  p.onEvent({ type: 'cached', vertex: b, key: K });
  await p.close({ ok: true });
  t.is(
    out.text,
    ['#1 [a 1/2] RUN x', '#1 0.123 hello', '#1 1.123 warn: x', '#1 DONE 0.1s', '', '#2 [a 2/2] COPY . .', '#2 CACHED', ''].join('\n'),
  );
});

test('plain: ERROR and CANCELED lines, then the failing step output summary', async (t) => {
  const { out, clock, p } = setup();
  const a = vertex('[b 1/2] RUN false');
  const b = vertex('[c 1/1] RUN sleep 9');
  p.onEvent({ type: 'start', vertex: a, key: K });
  clock.t += 10;
  p.onEvent({ type: 'log', vertex: a, stream: 'stderr', data: 'oops\n' });
  p.onEvent({ type: 'error', vertex: a, key: K, error: new Error('process "/bin/sh -c false" did not complete successfully: exit code: 1') });
  p.onEvent({ type: 'canceled', vertex: b, key: K });
  await p.close({ ok: false });
  t.is(
    out.text,
    [
      '#1 [b 1/2] RUN false',
      '#1 0.010 oops',
      '#1 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1',
      '',
      '#2 [c 1/1] RUN sleep 9',
      '#2 CANCELED',
      '',
      '------',
      ' > [b 1/2] RUN false:',
      '0.010 oops',
      '------',
      '',
    ].join('\n'),
  );
});

test('plain: partial lines wait for their newline or the end of the step, per stream', async (t) => {
  const { out, clock, p } = setup();
  const a = vertex('[a 1/1] RUN x');
  p.onEvent({ type: 'start', vertex: a, key: K });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'hel' });
  p.onEvent({ type: 'log', vertex: a, stream: 'stderr', data: 'err' });
  t.is(out.text, '#1 [a 1/1] RUN x\n', 'nothing printed before a newline');
  clock.t += 500;
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'lo\nwor' });
  p.onEvent({ type: 'log', vertex: a, stream: 'stderr', data: 'or\r\n' });
  clock.t += 500;
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 1000 });
  await p.close();
  t.is(out.text, ['#1 [a 1/1] RUN x', '#1 0.500 hello', '#1 0.500 error', '#1 1.000 wor', '#1 DONE 1.0s', ''].join('\n'));
});

test('plain: a UTF-8 character split across chunks is not garbled', async (t) => {
  const { out, p } = setup();
  const a = vertex('[a 1/1] RUN x');
  const bytes = Buffer.from('café\n');
  p.onEvent({ type: 'start', vertex: a, key: K });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: bytes.subarray(0, 4) });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: bytes.subarray(4) });
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 0 });
  await p.close();
  t.true(out.text.includes('#1 0.000 café\n'));
});

test('plain: parallel steps print in blocks; the other step is held until the open one ends', async (t) => {
  const { out, clock, p } = setup();
  const a = vertex('[a 2/2] RUN make');
  const b = vertex('[b 2/2] RUN make test');
  p.onEvent({ type: 'start', vertex: a, key: K });
  p.onEvent({ type: 'start', vertex: b, key: K });
  clock.t += 100;
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'a1\n' });
  clock.t += 100;
  p.onEvent({ type: 'log', vertex: b, stream: 'stdout', data: 'b1\n' });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'a2\n' });
  p.onEvent({ type: 'log', vertex: b, stream: 'stdout', data: 'b2\n' });
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 300 });
  p.onEvent({ type: 'done', vertex: b, key: K, ms: 400 });
  await p.close();
  t.is(
    out.text,
    [
      '#1 [a 2/2] RUN make',
      '#1 0.100 a1',
      '#1 0.200 a2',
      '#1 DONE 0.3s',
      '',
      '#2 [b 2/2] RUN make test',
      '#2 0.200 b1',
      '#2 0.200 b2',
      '#2 DONE 0.4s',
      '',
    ].join('\n'),
  );
});

test('plain: held output of a parallel step comes out after a while, marking the interrupted block', async (t) => {
  const { out, clock, p } = setup();
  const a = vertex('[a 2/2] RUN make');
  const b = vertex('[b 2/2] RUN make test');
  const c = vertex('[c 1/1] FROM alpine');
  p.onEvent({ type: 'start', vertex: a, key: K });
  p.onEvent({ type: 'start', vertex: b, key: K });
  p.onEvent({ type: 'log', vertex: b, stream: 'stdout', data: 'b1\n' });
  clock.t += 2500;
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'a1\n' });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'a2\n' });
  p.onEvent({ type: 'cached', vertex: c, key: K });
  p.onEvent({ type: 'error', vertex: a, key: K, error: 'exit code: 2' });
  p.onEvent({ type: 'canceled', vertex: b, key: K });
  await p.close({ ok: false });
  t.is(
    out.text,
    [
      '#1 [a 2/2] RUN make',
      '#1 2.500 a1',
      '#1 ...',
      '',
      '#2 [b 2/2] RUN make test',
      '#2 0.000 b1',
      '#2 ...',
      '',
      '#3 [c 1/1] FROM alpine',
      '#3 CACHED',
      '',
      '#1 [a 2/2] RUN make',
      '#1 2.500 a2',
      '#1 ERROR: exit code: 2',
      '',
      '#2 [b 2/2] RUN make test',
      '#2 CANCELED',
      '',
      '------',
      ' > [a 2/2] RUN make:',
      '2.500 a1',
      '2.500 a2',
      '------',
      '',
    ].join('\n'),
  );
  for (const line of out.text.split('------')[0].split('\n').filter(Boolean)) t.regex(line, /^#[123] /);
});

test('plain: output is clipped only when maxLogLines is set', async (t) => {
  const lines = Array.from({ length: 5 }, (_, i) => `line ${i}\n`).join('');
  for (const [max, shown] of [[undefined, 5], [2, 2]] as const) {
    const { out, p } = setup({ maxLogLines: max });
    const a = vertex('[a 1/1] RUN x');
    p.onEvent({ type: 'start', vertex: a, key: K });
    p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: lines });
    p.onEvent({ type: 'done', vertex: a, key: K, ms: 0 });
    await p.close();
    t.is(out.text.match(/^#1 0\.000 line \d$/gm)?.length, shown);
    t.is(out.text.includes('#1 [output clipped, log limit 2 lines reached]'), max === 2);
  }
});

test('plain: builder tasks with sub-lines, info steps and the warnings summary', async (t) => {
  const { out, clock, p } = setup();
  p.info('[internal] load build definition from Dockerfile', 'transferring dockerfile: 123B done');
  p.warn('JSONArgsRecommended: JSON arguments recommended for CMD (line 4)');
  const exp = p.task('exporting to image');
  const layers = exp.status('exporting layers');
  clock.t += 300;
  layers.done();
  exp.log('writing image sha256:abc done');
  exp.log('naming to docker.io/library/app:v1 done');
  clock.t += 200;
  exp.done();
  exp.log('ignored: the task is over');
  await p.close({ ok: true });
  t.is(
    out.text,
    [
      '#1 [internal] load build definition from Dockerfile',
      '#1 transferring dockerfile: 123B done',
      '#1 DONE 0.0s',
      '',
      '#2 exporting to image',
      '#2 exporting layers 0.3s done',
      '#2 writing image sha256:abc done',
      '#2 naming to docker.io/library/app:v1 done',
      '#2 DONE 0.5s',
      '',
      '1 warning found:',
      ' - JSONArgsRecommended: JSON arguments recommended for CMD (line 4)',
      '',
    ].join('\n'),
  );
});

test('plain: a failing task prints ERROR; close cancels steps left open on failure', async (t) => {
  const { out, p } = setup();
  const running = vertex('[a 1/1] RUN sleep 100');
  p.onEvent({ type: 'start', vertex: running, key: K });
  p.task('exporting to image').fail(new Error('disk full'));
  await p.close({ ok: false });
  await p.close({ ok: false });
  t.is(
    out.text,
    ['#1 [a 1/1] RUN sleep 100', '#1 ...', '', '#2 exporting to image', '#2 ERROR: disk full', '', '#1 [a 1/1] RUN sleep 100', '#1 CANCELED', ''].join('\n'),
  );
});

test('createProgress auto picks plain in CI and on pipes', (t) => {
  const tty = Object.assign(new FakeStream(), { isTTY: true });
  t.true(createProgress('auto', new FakeStream(), { env: {} }) instanceof PlainProgressWriter);
  t.true(createProgress('auto', tty, { env: { CI: 'true' } }) instanceof PlainProgressWriter);
});
