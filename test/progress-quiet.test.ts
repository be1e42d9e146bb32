import test from 'ava';
import { FakeStream, vertex } from './helpers/progress-fakes.js';
import { QuietProgressWriter } from '../builder/progress/quiet.js';
import { createProgress } from '../builder/progress/index.js';

const K = 'sha256:0';

test('quiet: prints nothing on success, warnings included', async (t) => {
  const out = new FakeStream();
  const p = createProgress('quiet', out, { now: () => 0 });
  t.true(p instanceof QuietProgressWriter);
  const a = vertex('[a 1/1] RUN echo hi');
  p.info('[internal] load build definition from Dockerfile');
  p.onEvent({ type: 'start', vertex: a, key: K });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: 'hi\n' });
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 3 });
  p.warn('some lint warning');
  await p.close({ ok: true });
  t.is(out.text, '');
});

test('quiet: the failing step is printed with all its output and the error', async (t) => {
  const out = new FakeStream();
  const clock = { t: 0 };
  const p = new QuietProgressWriter(out, { now: () => clock.t });
  const ok = vertex('[a 1/2] RUN echo fine');
  const bad = vertex('[a 2/2] RUN make');
  p.onEvent({ type: 'start', vertex: ok, key: K });
  p.onEvent({ type: 'log', vertex: ok, stream: 'stdout', data: 'fine\n' });
  p.onEvent({ type: 'done', vertex: ok, key: K, ms: 3 });
  p.onEvent({ type: 'start', vertex: bad, key: K });
  clock.t += 250;
  p.onEvent({ type: 'log', vertex: bad, stream: 'stdout', data: 'cc main.c\n' });
  p.onEvent({ type: 'log', vertex: bad, stream: 'stderr', data: 'main.c:1: error: expected ;' });
  p.onEvent({ type: 'error', vertex: bad, key: K, error: new Error('exit code: 2') });
  await p.close({ ok: false });
  t.is(
    out.text,
    ['#2 [a 2/2] RUN make', '#2 0.250 cc main.c', '#2 0.250 main.c:1: error: expected ;', '#2 ERROR: exit code: 2', ''].join('\n'),
  );
});

test('quiet: a failing builder task is printed too', async (t) => {
  const out = new FakeStream();
  const p = new QuietProgressWriter(out, { now: () => 0 });
  const task = p.task('exporting to image');
  task.log('exporting layers done');
  task.fail('no space left on device');
  await p.close({ ok: false });
  t.is(out.text, '#1 exporting to image\n#1 exporting layers done\n#1 ERROR: no space left on device\n');
});
