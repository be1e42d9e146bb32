import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileError } from '../frontend/errors.js';
import { dumpBuildkit, parseAst } from '../frontend/parser/index.js';
import { conformanceDir } from './helpers/conformance.js';

const parserCases = conformanceDir('buildkit/parser', 'parser conformance') ?? '';
const positive = parserCases ? readdirSync(path.join(parserCases, 'testfiles')).sort() : [];
const negative = parserCases ? readdirSync(path.join(parserCases, 'testfiles-negative')).sort() : [];

if (parserCases) {
  test('the conformance folders are there', (t) => {
    t.true(positive.length >= 33, `found ${positive.length} positive cases`);
    t.true(negative.length >= 4, `found ${negative.length} negative cases`);
  });
}

for (const name of positive) {
  test(`parses ${name} like BuildKit`, (t) => {
    const dir = path.join(parserCases, 'testfiles', name);
    const text = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
    const expected = readFileSync(path.join(dir, 'result'), 'utf8');
    t.is(dumpBuildkit(parseAst(text)), expected);
  });
}

for (const name of negative) {
  test(`rejects ${name}`, (t) => {
    const text = readFileSync(path.join(parserCases, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
    const err = t.throws(() => parseAst(text, { file: 'Dockerfile' }));
    t.true(err instanceof DockerfileError, String(err));
    const located = err as DockerfileError;
    t.is(typeof located.location?.line, 'number');
    t.true(located.location!.line >= 1);
  });
}
