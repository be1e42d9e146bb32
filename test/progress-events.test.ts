// A build reports progress as ProgressEvents (builder/progress/events.ts)
// and the CLI's writer shows them with onProgress. The output must be the
// same, byte for byte, as when the writer is driven directly (onEvent,
// task, warn), which is how every writer test and the CLI before the
// build became a library call drove it.
import test from 'ava';
import { PlainProgressWriter, QuietProgressWriter, RawJsonProgressWriter, ProgressEmitter, type ProgressWriter } from '../builder/progress/index.js';
import type { SolveEvent } from '../builder/solver/solver.js';
import { FakeStream, vertex } from './helpers/progress-fakes.js';

// One build's worth of progress calls, against any ProgressWriter-shaped target.
function script(p: Pick<ProgressWriter, 'onEvent' | 'task' | 'info' | 'warn'>): void {
  const run = vertex('[stage-0 2/3] RUN make');
  const copy = vertex('[stage-0 1/3] COPY . /app');
  const bad = vertex('[stage-0 3/3] RUN false');
  const ev = (e: SolveEvent) => p.onEvent(e);
  const load = p.task('[internal] load build definition from Dockerfile');
  load.log('transferring dockerfile: 42B done');
  load.done();
  ev({ type: 'cached', vertex: copy, key: 'k1' });
  ev({ type: 'start', vertex: run, key: 'k2', miss: 'src/main.ts changed' });
  ev({ type: 'log', vertex: run, stream: 'stdout', data: 'cc main.c\nld ' });
  ev({ type: 'log', vertex: run, stream: 'stderr', data: Buffer.from('warning: x\n') });
  ev({ type: 'log', vertex: run, stream: 'stdout', data: 'main\n' });
  ev({ type: 'done', vertex: run, key: 'k2', ms: 1180 });
  ev({ type: 'start', vertex: bad, key: 'k3' });
  ev({ type: 'log', vertex: bad, stream: 'stderr', data: 'nope\n' });
  ev({ type: 'error', vertex: bad, key: 'k3', error: new Error('process "false" did not complete successfully: exit code: 1') });
  const exp = p.task('exporting to image');
  const layers = exp.status('exporting layers');
  layers.done();
  exp.log('writing image sha256:abc done');
  exp.fail(new Error('disk full'));
  exp.log('ignored after the end');
  p.info('[internal] cache size limit', 'removed 1 cache entries');
  p.warn('JSONArgsRecommended: JSON arguments recommended for CMD (line 3)');
}

const writers = {
  plain: (out: FakeStream, now: () => number) => new PlainProgressWriter(out, { now }),
  rawjson: (out: FakeStream, now: () => number) => new RawJsonProgressWriter(out, { now }),
  quiet: (out: FakeStream, now: () => number) => new QuietProgressWriter(out, { now }),
};

for (const [mode, make] of Object.entries(writers)) {
  test(`${mode}: events through ProgressEmitter and onProgress print what direct calls print`, async (t) => {
    const now = () => 1_700_000_000_000;
    const direct = new FakeStream();
    const a = make(direct, now);
    script(a);
    await a.close({ ok: false });

    const viaEvents = new FakeStream();
    const b = make(viaEvents, now);
    script(new ProgressEmitter((e) => b.onProgress(e), now));
    await b.close({ ok: false });

    t.true(direct.text.length > 0);
    t.is(viaEvents.text, direct.text);
  });
}
