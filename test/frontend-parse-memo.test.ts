// parseDockerfile() remembers its last result: the same text and name give
// the same (readonly) Dockerfile, anything else is parsed again, and a
// Dockerfile that does not parse fails every time.
import test from 'ava';
import { parseDockerfile } from '../frontend/index.js';

const TEXT = 'FROM busybox AS base\nRUN echo hi\nFROM base\nCOPY a /a\n';

test('the same text and name: parsed once', (t) => {
  const first = parseDockerfile(TEXT, { file: 'Dockerfile' });
  t.is(parseDockerfile(TEXT, { file: 'Dockerfile' }), first);
  t.is(first.stages.length, 2);
});

test('another name or another text: parsed again, with what it says', (t) => {
  const first = parseDockerfile(TEXT, { file: 'Dockerfile' });
  const named = parseDockerfile(TEXT, { file: 'other.Dockerfile' });
  t.not(named, first);
  t.is(named.file, 'other.Dockerfile');
  const edited = parseDockerfile(TEXT.replace('/a', '/b'), { file: 'Dockerfile' });
  t.not(edited, first);
  t.deepEqual(edited.stages[1]!.instructions.map((i) => i.kind), ['COPY']);
  t.regex(JSON.stringify(edited.stages[1]!.instructions[0]), /"\/b"/);
});

test('a Dockerfile that does not parse fails again', (t) => {
  const bad = 'FROM busybox\nCOPY --bogus=1 a /a\n';
  t.throws(() => parseDockerfile(bad, { file: 'Dockerfile' }));
  t.throws(() => parseDockerfile(bad, { file: 'Dockerfile' }));
});
