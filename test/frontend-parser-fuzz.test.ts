/**
 * Mutation fuzzing of the parser and the typed layer: every mutated
 * Dockerfile must either parse or fail with a located DockerfileError, never
 * with any other exception. A seeded PRNG makes every run identical; a failing
 * case is printed so it can be turned into a unit test.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileError } from '../frontend/errors.js';
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
