// Status lines of a step (a FROM's download and extract lines): plain and
// rawjson print every update, the live view keeps the latest per id.
import test from 'ava';
import { FakeStream, vertex } from './helpers/progress-fakes.js';
import { PlainProgressWriter } from '../builder/progress/plain.js';
import { RawJsonProgressWriter, type RawJsonRecord } from '../builder/progress/rawjson.js';
import { TtyProgressWriter } from '../builder/progress/tty.js';

const K = 'sha256:0';
const LAYER = `sha256:${'ab'.repeat(32)}`;

function feed(p: { onEvent: PlainProgressWriter['onEvent'] }, clock: { t: number }): void {
  const from = vertex('[stage-0 1/2] FROM registry.test/busybox:latest@sha256:1234');
  p.onEvent({ type: 'start', vertex: from, key: K });
  p.onEvent({ type: 'status', vertex: from, text: `extracting ${LAYER}`, id: `extracting ${LAYER}` });
  clock.t += 1200;
  p.onEvent({ type: 'status', vertex: from, text: `extracting ${LAYER} 1.2s done`, id: `extracting ${LAYER}` });
  p.onEvent({ type: 'done', vertex: from, key: K, ms: 1250 });
}

test('plain: every status update is a line of its step', async (t) => {
  const out = new FakeStream();
  const clock = { t: 0 };
  const p = new PlainProgressWriter(out, { now: () => clock.t });
  feed(p, clock);
  await p.close({ ok: true });
  t.is(out.text, [
    '#1 [stage-0 1/2] FROM registry.test/busybox:latest@sha256:1234',
    `#1 extracting ${LAYER}`,
    `#1 extracting ${LAYER} 1.2s done`,
    '#1 DONE 1.3s',
    '',
  ].join('\n'));
});

test('rawjson: an updated status keeps its id (buildx SolveStatus statuses), completed once done', async (t) => {
  const out = new FakeStream();
  const clock = { t: Date.UTC(2024, 4, 1, 10) };
  const p = new RawJsonProgressWriter(out, { now: () => clock.t });
  feed(p, clock);
  await p.close({ ok: true });
  const recs = out.text.trim().split('\n').map((l) => JSON.parse(l) as RawJsonRecord);
  const statuses = recs.flatMap((r) => r.statuses ?? []);
  t.deepEqual(statuses.map((s) => [s.id, s.name, s.completed !== undefined]), [
    [`extracting ${LAYER}`, `extracting ${LAYER}`, false],
    [`extracting ${LAYER}`, `extracting ${LAYER} 1.2s done`, true],
  ]);
  const vertex = recs.flatMap((r) => r.vertexes ?? []).find((v) => v.name?.includes('FROM'))!;
  t.true(statuses.every((s) => s.vertex === vertex.digest));
});

test('tty: an updated status replaces its earlier text', async (t) => {
  const out = Object.assign(new FakeStream(), { isTTY: true, columns: 200, rows: 40 });
  const clock = { t: 0 };
  const p = new TtyProgressWriter(out, { now: () => clock.t, color: false });
  feed(p, clock);
  await p.close({ ok: true });
  const last = out.text.slice(out.text.lastIndexOf('[+] Building'));
  t.regex(last, /=> => extracting sha256:(ab)+ 1\.2s done/);
  t.false(last.includes(`extracting ${LAYER}\n`), last);
});
