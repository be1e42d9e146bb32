/**
 * Mutation fuzzing of the parser and the typed layer: every mutated
 * Dockerfile must either parse or fail with a located DockerfileError, never
 * with any other exception. A seeded PRNG makes every run identical; a failing
 * case is printed so it can be turned into a unit test.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileError, formatDockerfileError } from '../frontend/errors.js';
import { runCallMode, type BaseImage, type BuildGraphOptions } from '../frontend/index.js';
import { parseDockerfile } from '../frontend/instructions/index.js';
import { dumpBuildkit, parseAst } from '../frontend/parser/index.js';
import { conformanceDir } from './helpers/conformance.js';

// Without the shared folder the fuzzer still runs, from the inline seeds only.
const parserCases = conformanceDir('buildkit/parser', 'fuzz seeds from the parser vectors');

/** mulberry32: small, fast, good enough to pick mutations reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INLINE_SEEDS = [
  '# syntax=docker/dockerfile:1\n# escape=`\nARG BASE=alpine\nFROM ${BASE} AS build\nRUN echo `\n  hi\n',
  'FROM a\nRUN --mount=type=cache,target=/c,sharing=locked --mount=type=secret,id=s,required \\\n  --network=none <<EOF\nset -e\necho $X\nEOF\n',
  'FROM a AS b\nCOPY --from=b --chown=1:1 --chmod=0644 --link --parents --exclude=*.md <<one <<-two /dst/\n1\none\n\t2\n\ttwo\n',
  'FROM a\nADD --checksum=sha256:' + '0'.repeat(64) + ' --keep-git-dir=true https://x/y.git /src\n',
  'FROM a\nHEALTHCHECK --interval=5s --timeout=3s --start-period=1m --start-interval=1s --retries=3 CMD ["curl", "-f", "x"]\n',
  'FROM a\nENV A=1 B="two words" C=${A:-x}\nLABEL "k"="v" k2=v2\nARG x y=2\nEXPOSE 80 53/udp 8000-8010\nUSER app:app\n',
  'FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nONBUILD COPY . /\nSTOPSIGNAL SIGTERM\nSHELL ["/bin/bash", "-c"]\nVOLUME ["/data"]\n',
  'FROM a\nWORKDIR /app\nCMD ["node", "x.js"]\nENTRYPOINT exec "$@"\nMAINTAINER me\n',
];

const INSERTIONS = [
  '\\', '\\\n', '`', '"', "'", '<<EOF', '<<-EOF', "<<'EOF'", '\nEOF\n', '${', '}', '$', '[', ']', '["a", ', '=', ',',
  '\n', '\r\n', '\t', ' ', '#', '# escape=`\n', '--mount=type=cache', '--mount=type=', '--mount="a,b', '--foo', '--chmod=',
  '--interval=', '--from=', '--network=', '--', 'ONBUILD ', 'FROM ', 'RUN ', 'COPY ', 'ENV ', 'AS ', '\u00a0', '☃',
];

function mutate(text: string, rand: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  let out = text;
  const count = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < count; i++) {
    const pos = Math.floor(rand() * (out.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0: // delete a character
        out = out.slice(0, pos) + out.slice(pos + 1);
        break;
      case 1: // duplicate a character
        out = out.slice(0, pos) + out.slice(pos, pos + 1) + out.slice(pos);
        break;
      case 2: // swap two neighbours
        out = out.slice(0, pos) + out.slice(pos + 1, pos + 2) + out.slice(pos, pos + 1) + out.slice(pos + 2);
        break;
      case 3: // truncate
        out = out.slice(0, pos);
        break;
      default: // insert a troublesome token
        out = out.slice(0, pos) + pick(INSERTIONS) + out.slice(pos);
    }
  }
  return out;
}

function corpus(): string[] {
  if (!parserCases) return INLINE_SEEDS;
  const files = readdirSync(path.join(parserCases, 'testfiles'))
    .sort()
    .map((name) => readFileSync(path.join(parserCases, 'testfiles', name, 'Dockerfile'), 'utf8'));
  return [...files, ...INLINE_SEEDS];
}

test('mutated Dockerfiles parse or fail with a located DockerfileError', (t) => {
  const seeds = corpus();
  const rand = prng(Number(process.env.FUZZ_SEED ?? 20240611));
  const iterations = 4000;
  let parsed = 0;
  let rejected = 0;
  for (let i = 0; i < iterations; i++) {
    const input = mutate(seeds[i % seeds.length]!, rand);
    const lineCount = input.split('\n').length;
    try {
      const ast = parseAst(input);
      dumpBuildkit(ast);
      for (const node of ast.instructions) {
        if (node.startLine < 1 || node.endLine < node.startLine || node.endLine > lineCount) {
          t.fail(`bad line range ${node.startLine}-${node.endLine} in case ${i}: ${JSON.stringify(input)}`);
          return;
        }
      }
      parseDockerfile(input);
      parsed++;
    } catch (e) {
      const located = e instanceof DockerfileError && typeof e.location?.line === 'number' && e.location.line >= 1;
      if (!located) {
        t.fail(`case ${i} threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\ninput: ${JSON.stringify(input)}`);
        return;
      }
      rejected++;
    }
  }
  t.is(parsed + rejected, iterations);
  // Both outcomes must be exercised, or the mutations are too weak (or too strong).
  t.true(parsed > iterations / 10, `parsed ${parsed}`);
  t.true(rejected > iterations / 20, `rejected ${rejected}`);
  t.log(`parsed ${parsed}, rejected ${rejected}`);
});

// ---- deep, many and huge: inputs that once overflowed the stack or built
// reports of hundreds of megabytes. Each must end in a report or a located
// error, never in an internal error, and what is printed stays bounded.

const AMD64 = { os: 'linux', architecture: 'amd64' };
const planOptions = (): BuildGraphOptions => ({
  buildArgs: new Map(), platform: AMD64, buildPlatform: AMD64,
  resolveImage: async (ref): Promise<BaseImage> => ({ ref, platform: AMD64, config: {}, history: [] }),
});

/** Runs a call mode and returns its report; a thrown error must be a located DockerfileError. */
async function callMode(call: string, text: string): Promise<{ report: string; error?: DockerfileError }> {
  const chunks: string[] = [];
  try {
    await runCallMode(call, parseDockerfile(text, { file: 'Dockerfile' }), planOptions(), { write: (s: string) => chunks.push(s) }, text);
    return { report: chunks.join('') };
  } catch (e) {
    if (!(e instanceof DockerfileError) || typeof e.location?.line !== 'number') throw e;
    return { report: chunks.join(''), error: e };
  }
}

const nested = (depth: number) => '${a:-'.repeat(depth) + 'x' + '}'.repeat(depth);

for (const depth of [10, 499, 501, 2_000, 20_000]) {
  test(`variable substitutions nested ${depth} deep: expanded, or refused with a located error`, async (t) => {
    for (const at of [`ARG z=${nested(depth)}`, `ENV z=${nested(depth)}`, `RUN echo ${nested(depth)}`]) {
      const text = `FROM scratch\n${at}\n`;
      const { report, error } = await callMode('check', text);
      const failure = error ? formatDockerfileError(error) : (/ERROR: (.*)/s.exec(report)?.[1] ?? '');
      if (at.startsWith('RUN')) {
        // Shell form: the shell expands it, not the frontend; only no internal error (callMode) and a bounded report.
      } else if (depth < 500) {
        t.notRegex(report, /nested more than/, at.slice(0, 10));
      } else {
        t.regex(failure, /^Dockerfile:2(:\d+)?: failed to process .*variable substitutions nested more than 500 deep/, at.slice(0, 10));
      }
      t.true(report.length < 10_000 && failure.length < 10_000, `report of ${report.length} characters`);
    }
  });
}

test('a chain of 10,000 stages (FROM s(k-1) AS sk) is checked, outlined and listed', async (t) => {
  const lines = ['FROM scratch AS s0', ...Array.from({ length: 10_000 }, (_, k) => `FROM s${k} AS s${k + 1}`)];
  const text = lines.join('\n') + '\n';
  t.regex((await callMode('check', text)).report, /Check complete, no warnings found/);
  t.regex((await callMode('outline', text)).report, /TARGET:\s+s10000/);
  t.regex((await callMode('targets', text)).report, /s9999/);
});

test('a long chain of stages that each copy from the next is refused with a located error', async (t) => {
  const lines = ['FROM scratch AS s0', ...Array.from({ length: 5_000 }, (_, k) => `FROM s${k} AS s${k + 1}\nCOPY --from=s${k + 2} / /`)];
  const { report, error } = await callMode('check', lines.join('\n') + '\n');
  const failure = error ? formatDockerfileError(error) : report;
  t.regex(failure, /Dockerfile:3:1: cannot copy from stage "s2", it needs to be defined before current stage "s1"/);
});

test('500 warnings next to a 1 MB line: each warning once, with a bounded excerpt', async (t) => {
  const text = `FROM scratch\nLABEL big=${'x'.repeat(1 << 20)}\n${Array.from({ length: 500 }, (_, i) => `ENV v${i}=$undefined${i}\n`).join('')}`;
  const { report } = await callMode('check', text);
  t.regex(report, /^Check complete, 500 warnings have been found!/);
  for (let i = 0; i < 500; i += 99) t.is(report.split(`'$undefined${i}'\n`).length, 2, `warning ${i} once`);
  t.true(report.length < 1_000_000, `report of ${report.length} characters`);
  t.regex(report, /\.\.\. \(\d+ more characters\)/);
});

test('a 5 MB line: the error or warning quotes a bounded excerpt', async (t) => {
  for (const tail of [' $undef', '$undef']) {
    const text = `FROM scratch\nLABEL big=${'y'.repeat(5 << 20)}${tail}\n`;
    const { report, error } = await callMode('check', text);
    const shown = report + (error ? formatDockerfileError(error) : '');
    t.regex(shown, /Dockerfile:2/);
    t.true(shown.length < 10_000, `${shown.length} characters shown`);
  }
});
