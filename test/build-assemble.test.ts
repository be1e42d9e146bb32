// History times as BuildKit's exporter assigns them.
import test from 'ava';
import { finalHistory } from '../builder/pipeline/assemble-image.js';
import type { StagePlan } from '../frontend/graph/types.js';
import type { StepResult } from '../builder/store/step-result.js';

const layer = (created: string) => ({ diffId: 'sha256:x', blob: 'sha256:x', size: 1, mediaType: 'm', created }) as StepResult['layers'][number];

test('metadata entries take the first new layer time, then the time of the layer before them', (t) => {
  const stage = {
    history: [
      { created_by: 'base', created: '2020-01-01T00:00:00.000Z' },
      { created_by: 'ARG X', empty_layer: true },
      { created_by: 'WORKDIR /app' },
      { created_by: 'ENV A=b', empty_layer: true },
      { created_by: 'RUN make # buildkit' },
      { created_by: 'RUN true # buildkit' },
      { created_by: 'CMD ["x"]', empty_layer: true },
    ],
  } as unknown as StagePlan;
  const result: StepResult = {
    layers: [layer('2020-01-01T00:00:00.000Z'), layer('2026-01-01T00:00:01.000Z'), layer('2026-01-01T00:00:02.000Z')],
    stepAdded: [true, true, false],
  };
  const h = finalHistory(stage, result, { layerCount: 1, historyCount: 1 }, '2030-01-01T00:00:00.000Z');
  t.deepEqual(h.map((e) => [e.created_by, e.created, e.empty_layer ?? false]), [
    ['base', '2020-01-01T00:00:00.000Z', false],
    ['ARG X', '2026-01-01T00:00:01.000Z', true],
    ['WORKDIR /app', '2026-01-01T00:00:01.000Z', false],
    ['ENV A=b', '2026-01-01T00:00:01.000Z', true],
    ['RUN make # buildkit', '2026-01-01T00:00:02.000Z', false],
    // A step whose diff was empty made no layer: its entry becomes empty.
    ['RUN true # buildkit', '2026-01-01T00:00:02.000Z', true],
    ['CMD ["x"]', '2026-01-01T00:00:02.000Z', true],
  ]);
});

test('with SOURCE_DATE_EPOCH every new entry gets exactly that time', (t) => {
  const stage = { history: [{ created_by: 'base', created: '2020-01-01T00:00:00.000Z' }, { created_by: 'RUN x # buildkit' }] } as unknown as StagePlan;
  const h = finalHistory(stage, { layers: [layer('a'), layer('b')], stepAdded: [true] }, { layerCount: 1, historyCount: 1 }, '2023-11-14T22:13:20.000Z', true);
  t.deepEqual(h.map((e) => e.created), ['2020-01-01T00:00:00.000Z', '2023-11-14T22:13:20.000Z']);
});
