// `tsbuild debug parse --format buildkit` through the real CLI, against
// BuildKit's parser conformance cases read from ../shared/conformance.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tsbuild } from './helpers/cli.js';
import { conformanceDir } from './helpers/conformance.js';

const CASES = conformanceDir('buildkit/parser', 'debug parse');
const root = '/nonexistent-store-debug-parse-does-not-need-one';

for (const name of CASES ? readdirSync(path.join(CASES, 'testfiles')).sort() : []) {
  test(`debug parse reproduces ${name}`, async (t) => {
    const dir = path.join(CASES!, 'testfiles', name);
    const r = await tsbuild(['debug', 'parse', '--format', 'buildkit', path.join(dir, 'Dockerfile')], { root });
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, readFileSync(path.join(dir, 'result'), 'utf8'));
  });
}

for (const name of CASES ? readdirSync(path.join(CASES, 'testfiles-negative')).sort() : []) {
  test(`debug parse rejects ${name} with a located error`, async (t) => {
    const r = await tsbuild(['debug', 'parse', '--format', 'buildkit', path.join(CASES!, 'testfiles-negative', name, 'Dockerfile')], { root });
    t.not(r.code, 0);
    t.regex(r.stderr, /^ERROR: Dockerfile:\d+/m);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('debug parse reads a Dockerfile from stdin', async (t) => {
  const r = await tsbuild(['debug', 'parse', '-'], { root, input: 'FROM busybox\nRUN echo hi\n' });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '(from "busybox")\n(run "echo hi")\n');
});

test('tsbuild --version and --help', async (t) => {
  const v = await tsbuild(['--version'], { root });
  t.regex(v.stdout, /^tsbuild version \d+\.\d+\.\d+/);
  const h = await tsbuild(['build', '--help'], { root });
  t.is(h.code, 0);
  for (const flag of ['--tag', '--file', '--build-arg', '--target', '--platform', '--label', '--no-cache', '--pull', '--progress', '--output', '--iidfile', '--metadata-file', '--secret', '--ssh', '--cache-from', '--cache-to', '--call']) {
    t.true(h.stdout.includes(flag), flag);
  }
});

test('unknown flags and commands are usage errors', async (t) => {
  const r = await tsbuild(['build', '--frobnicate', '.'], { root });
  t.is(r.code, 1);
  t.regex(r.stderr, /unknown flag: --frobnicate/);
  const c = await tsbuild(['frob'], { root });
  t.is(c.code, 1);
  t.regex(c.stderr, /'frob' is not a tsbuild command/);
});
