import test from 'ava';
import { FakeStream, vertex } from './helpers/progress-fakes.js';
import { RawJsonProgressWriter, type RawJsonRecord } from '../builder/progress/rawjson.js';

const K = 'sha256:0';

// Every record is one complete line: parse them one by one.
function records(text: string): RawJsonRecord[] {
  if (!text.endsWith('\n')) throw new Error('output must end with a newline');
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as RawJsonRecord);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('rawjson: buildx SolveStatus records (vertexes, logs, statuses, warnings)', async (t) => {
  const out = new FakeStream();
  const clock = { t: Date.UTC(2024, 4, 1, 10) };
  const p = new RawJsonProgressWriter(out, { now: () => clock.t });
  const a = vertex('[a 1/2] RUN x');
  const b = vertex('[a 2/2] COPY . .');
  const c = vertex('[c 1/1] RUN false');
  p.onEvent({ type: 'start', vertex: a, key: K, miss: 'command changed' });
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
  const kinds = recs.map((r) => Object.keys(r)[0]);
  t.deepEqual(kinds, ['vertexes', 'logs', 'logs', 'vertexes', 'vertexes', 'vertexes', 'warnings', 'vertexes', 'statuses', 'vertexes']);
  const start = recs[0]!.vertexes![0]!;
  t.is(start.name, '[a 1/2] RUN x');
  t.regex(start.digest, /^sha256:[0-9a-f]{64}$/);
  t.is(start.started, '2024-05-01T10:00:00.000Z');
  t.is(start.completed, undefined);
  t.is(start.cacheMiss, 'command changed');
  t.deepEqual(recs[1]!.logs, [{ vertex: start.digest, stream: 1, data: b64('hel'), timestamp: '2024-05-01T10:00:00.120Z' }]);
  t.like(recs[2]!.logs![0], { stream: 2, data: b64('lo\n') });
  const done = recs[3]!.vertexes![0]!;
  t.is(done.digest, start.digest);
  t.is(done.completed, '2024-05-01T10:00:00.120Z');
  t.falsy(done.error);
  const all = recs.flatMap((r) => r.vertexes ?? []);
  t.true(all.some((v) => v.name === '[a 2/2] COPY . .' && v.cached === true && v.completed !== undefined));
  t.true(all.some((v) => v.name === '[c 1/1] RUN false' && v.error === 'exit code: 1'));
  const warning = recs.find((r) => r.warnings)!.warnings![0]!;
  t.is(Buffer.from(warning.short!, 'base64').toString(), 'JSONArgsRecommended: use JSON');
  const status = recs.find((r) => r.statuses)!.statuses![0]!;
  t.is(status.name, 'naming to docker.io/library/app:v1 done');
  t.is(status.current, 0);
  t.true(all.some((v) => v.name === 'exporting to image' && v.completed !== undefined));
  // No tsbuild-only closing record: the stream just ends, as buildx's.
  t.deepEqual(Object.keys(recs.at(-1)!), ['vertexes']);
});

test('rawjson: log bytes are passed through exactly (base64), split characters included', async (t) => {
  const out = new FakeStream();
  const p = new RawJsonProgressWriter(out, { now: () => 0 });
  const a = vertex('[a 1/1] RUN x');
  const bytes = Buffer.from('日本\n');
  p.onEvent({ type: 'start', vertex: a, key: K });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: bytes.subarray(0, 2) });
  p.onEvent({ type: 'log', vertex: a, stream: 'stdout', data: bytes.subarray(2) });
  p.onEvent({ type: 'done', vertex: a, key: K, ms: 5 });
  await p.close();
  const logs = records(out.text).flatMap((r) => r.logs ?? []);
  t.deepEqual(Buffer.concat(logs.map((l) => Buffer.from(l.data, 'base64'))), bytes);
});
