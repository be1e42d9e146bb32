import test from 'ava';
import { FakeStream, vertex } from './helpers/progress-fakes.js';
import { RawJsonProgressWriter, type RawJsonRecord } from '../builder/progress/rawjson.js';

const K = 'sha256:0';

// Every record is one complete line: parse them one by one.
function records(text: string): RawJsonRecord[] {
  if (!text.endsWith('\n')) throw new Error('output must end with a newline');
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as RawJsonRecord);
}

test('rawjson: one parseable record per event, with stable fields', async (t) => {
  const out = new FakeStream();
  const clock = { t: Date.UTC(2024, 4, 1, 10) };
  const p = new RawJsonProgressWriter(out, { now: () => clock.t });
  const a = vertex('[a 1/2] RUN x');
  const b = vertex('[a 2/2] COPY . .');
  const c = vertex('[c 1/1] RUN false');
  p.onEvent({ type: 'start', vertex: a, key: K });
  clock.t += 120;
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: Buffer.from('hel') });
  p.onEvent({ type: 'log', vertex: a, stream: 'stderr', data: 'lo\n' });
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 1180 });
  p.onEvent({ type: 'cached', vertex: b, key: K });
  p.onEvent({ type: 'error', vertex: c, key: K, error: new Error('exit code: 1') });
  p.warn('JSONArgsRecommended: use JSON');
  p.info('exporting to image', 'naming to docker.io/library/app:v1 done');
  await p.close({ ok: false });

  const recs = records(out.text);
  t.deepEqual(
    recs.map((r) => [r.type, r.vertex?.id]),
    [
      ['start', 1],
      ['log', 1],
      ['log', 1],
      ['done', 1],
      ['cached', 2],
      ['error', 3],
      ['warning', undefined],
      ['start', 4],
      ['status', 4],
      ['done', 4],
      ['end', undefined],
    ],
  );
  t.is(recs[0].time, '2024-05-01T10:00:00.000Z');
  t.deepEqual(recs[0].vertex, { id: 1, name: '[a 1/2] RUN x' });
  t.like(recs[1], { stream: 'stdout', data: 'hel', time: '2024-05-01T10:00:00.120Z' });
  t.like(recs[2], { stream: 'stderr', data: 'lo\n' });
  t.is(recs[3].ms, 1180);
  t.is(recs[5].error, 'exit code: 1');
  t.is(recs[6].message, 'JSONArgsRecommended: use JSON');
  t.is(recs[8].data, 'naming to docker.io/library/app:v1 done');
  t.is(recs[10].ok, false);
  for (const r of recs) t.is(Object.keys(r)[0], 'time');
});

test('rawjson: a UTF-8 character split between chunks is carried to the next record', async (t) => {
  const out = new FakeStream();
  const p = new RawJsonProgressWriter(out, { now: () => 0 });
  const a = vertex('[a 1/1] RUN x');
  const bytes = Buffer.from('日本\n');
  p.onEvent({ type: 'start', vertex: a, key: K });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: bytes.subarray(0, 2) });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: bytes.subarray(2, 4) });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: bytes.subarray(4) });
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 5 });
  await p.close();
  const logs = records(out.text).filter((r) => r.type === 'log');
  t.is(logs.map((r) => r.data).join(''), '日本\n');
  t.false(logs.some((r) => r.data!.includes('\uFFFD')));
});
