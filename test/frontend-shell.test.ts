// The Dockerfile word expander, held to BuildKit's conformance vectors
// (../shared/conformance/buildkit/shell/) plus our own cases for what the
// vectors do not cover: glob modifiers, reference tracking, the backtick
// escape, skipUnsetEnv, raw modes and error messages.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  envFromPairs,
  expandWord,
  expandWords,
  expandWordWithInfo,
  pairsFromAssignments,
  type EnvLookup,
} from '../frontend/shell/index.js';
import { DockerfileError, ExpansionError, formatDockerfileError } from '../frontend/errors.js';
import { conformanceDir } from './helpers/conformance.js';

// Without the shared folder there are no vectors: their tests are reported skipped (our own cases still run).
const shellVectors = conformanceDir('buildkit/shell', 'shell expansion vectors');
const readVectors = (name: string): string[] =>
  shellVectors ? readFileSync(path.join(shellVectors, name), 'utf8').split('\n') : [];

// ---------------------------------------------------------------- envVarTest

const envVarEnv = envFromPairs([
  ['PWD', '/home'],
  ['SHELL', 'bash'],
  ['KOREAN', '한국어'],
  ['NULL', ''],
]);

let envVarCases = 0;
readVectors('envVarTest').forEach((raw, index) => {
  const lineNo = index + 1;
  if (raw.startsWith('#') || raw.trim() === '') return;
  const fields = raw.trim().split('|');
  if (fields.length !== 3) throw new Error(`envVarTest:${lineNo}: expected 3 fields in ${JSON.stringify(raw)}`);
  const [platform, input, expected] = fields.map((f) => f.trim()) as [string, string, string];
  if (platform === 'W') return; // Windows-only vectors
  envVarCases++;
  test(`envVarTest:${lineNo} ${input}`, (t) => {
    if (expected === 'error') {
      const err = t.throws(() => expandWord(input, envVarEnv), { instanceOf: ExpansionError });
      t.is(err?.code, 'EXPANSION');
      t.true(err?.userError);
    } else {
      t.is(expandWord(input, envVarEnv), expected);
    }
  });
});

if (shellVectors) test('envVarTest vectors were all loaded', (t) => {
  // 238 lines minus comments, blanks and the two Windows-only cases.
  t.true(envVarCases > 200, `only ${envVarCases} cases`);
});

// ----------------------------------------------------------------- wordsTest

const assignments: string[] = [];
let wordsCases = 0;
readVectors('wordsTest').forEach((raw, index) => {
  const lineNo = index + 1;
  if (raw.startsWith('#') || raw === '') return;
  if (raw.startsWith('ENV ')) {
    // Cumulative environment; the value is raw text (trailing spaces kept).
    assignments.push(raw.slice(3).replace(/^ +/, ''));
    return;
  }
  const fields = raw.split('|');
  if (fields.length !== 2) throw new Error(`wordsTest:${lineNo}: expected one | in ${JSON.stringify(raw)}`);
  const input = fields[0]!.trim();
  const expected = fields[1]!.replace(/^ +/, '').split(',');
  const env = envFromPairs(pairsFromAssignments(assignments));
  wordsCases++;
  test(`wordsTest:${lineNo} ${input}`, (t) => {
    if (expected.length === 1 && expected[0] === 'error') {
      t.throws(() => expandWords(input, env), { instanceOf: ExpansionError });
    } else {
      t.deepEqual(expandWords(input, env), expected);
    }
  });
});

if (shellVectors) test('wordsTest vectors were all loaded', (t) => {
  t.true(wordsCases >= 20, `only ${wordsCases} cases`);
});

// ------------------------------------------------------- pattern modifiers

const env = (record: Record<string, string>): EnvLookup => envFromPairs(Object.entries(record));

const patternCases: Array<[input: string, vars: Record<string, string>, expected: string]> = [
  ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
  ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
  ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
  ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
  ['${FOO##*}', { FOO: 'xxyy' }, ''],
  ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
  ['${FOO#$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
  ['${FOO#}', { FOO: 'xxyy' }, 'xxyy'],
  ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
  ['${FOO##}', { FOO: 'xxyy' }, 'xxyy'],
  ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
  ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.'],
  ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a'],
  ['${FOO%}', { FOO: 'xxyy' }, 'xxyy'],
  ['${FOO%y*}', { FOO: 'xxyy' }, 'xxy'],
  ['${FOO%%y*}', { FOO: 'xxyy' }, 'xx'],
  ['${FOO%.*}', { FOO: 'archive.tar.gz' }, 'archive.tar'],
  ['${FOO%%.*}', { FOO: 'archive.tar.gz' }, 'archive'],
  ['${FOO##*/}', { FOO: '/usr/local/bin/tool' }, 'tool'],
  ['${FOO%/*}', { FOO: '/usr/local/bin/tool' }, '/usr/local/bin'],
  ['${FOO#v}', { FOO: 'v1.2.3' }, '1.2.3'],
  ['${FOO#한}', { FOO: '한국어' }, '국어'],
  ['${FOO%?}', { FOO: '한국어' }, '한국'],
  ['${MISSING#x}', {}, ''],
  // bracket expressions
  ['${FOO#[abc]}', { FOO: 'bxx' }, 'xx'],
  ['${FOO#[!abc]}', { FOO: 'bxx' }, 'bxx'],
  ['${FOO##[a-c]*[0-9]}', { FOO: 'b-1-2x' }, 'x'],
  ['${FOO%%[[:digit:]]*}', { FOO: 'abc123' }, 'abc'],
  ['${FOO#[]]}', { FOO: ']x' }, 'x'],
  ['${FOO#[}', { FOO: '[x' }, 'x'], // unclosed `[` is a plain character
  ['${FOO#[z-a]}', { FOO: 'mx' }, 'mx'], // reversed range matches nothing
  // replacement
  ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
  ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt'],
  ['${FOO/$N/$R} - ${FOO//$N/$R}', { FOO: '/a/foo/b/c.txt', N: '/?/', R: '/' }, '/foo/b/c.txt - /foo/c.txt'],
  ['${FOO/$N/$R}', { FOO: 'http://google.de', N: 'http://', R: 'https://' }, 'https://google.de'],
  ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
  ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy'],
  ['${FOO///}', { FOO: 'xxyy' }, 'xxyy'],
  ['${FOO///}', {}, ''],
  ['${FOO/a*b/X}', { FOO: 'ab ab c' }, 'X c'], // longest match at the leftmost position
  ['${FOO//[0-9]/#}', { FOO: 'a1b22' }, 'a#b##'],
  ['${FOO/x/$$1}', { FOO: 'x' }, '1'], // `$$` is the (unset) special parameter, `$1` never a group reference
];
for (const [input, vars, expected] of patternCases) {
  test(`pattern ${input} with ${JSON.stringify(vars)}`, (t) => {
    t.is(expandWord(input, env(vars)), expected);
  });
}

const malformed = ['${FOO:#}', '${FOO:##}', '${FOO:%}', '${FOO:%%}', '${FOO//ww}', '${FOO//}', '${FOO=aaa}', '${FOO=:aaa}', '${FOO=}', '${FOO#abc', '${+x}', '${FOO:'];
for (const input of malformed) {
  test(`malformed ${input} is an ExpansionError`, (t) => {
    t.throws(() => expandWord(input, env({ FOO: 'xxyy' })), { instanceOf: ExpansionError });
  });
}

// ------------------------------------------------------- reference tracking

test('used/unset: names referenced, split by whether they are set', (t) => {
  const info = expandWordWithInfo('${FOO-aaa} ${BAR-bbb} ${BAZ-ccc} $FOO', env({ FOO: 'xxx', BAR: '' }));
  t.is(info.result, 'xxx  ccc xxx');
  t.deepEqual([...info.used], ['FOO', 'BAR']);
  t.deepEqual([...info.unset], ['BAZ']);
});

test('used/unset: plain text references nothing', (t) => {
  const info = expandWordWithInfo("x '$QUOTED' \\$ESCAPED", env({}));
  t.is(info.result, 'x $QUOTED $ESCAPED');
  t.is(info.used.size, 0);
  t.is(info.unset.size, 0);
});

test('used/unset: modifier words are expanded eagerly, like BuildKit', (t) => {
  const info = expandWordWithInfo('${A:-$B}${C#$D}${E/$F/$G}', env({ A: 'a', D: '' }));
  t.is(info.result, 'a');
  t.deepEqual([...info.used].sort(), ['A', 'D']);
  t.deepEqual([...info.unset].sort(), ['B', 'C', 'E', 'F', 'G']);
});

test('used/unset: positional and special parameters are unset', (t) => {
  const info = expandWordWithInfo('$1$@${#}', env({}));
  t.is(info.result, '');
  t.deepEqual([...info.unset], ['1', '@', '#']);
});

test('used/unset: also reported with the words of expandWords', (t) => {
  const info = expandWordWithInfo('a $X "b c"', env({ X: '1 2' }));
  t.deepEqual(info.words, ['a', '1', '2', 'b c']);
  t.deepEqual([...info.used], ['X']);
});

test('BuildKit platform release name example', (t) => {
  const word = 'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz';
  const base = { VERSION: 'v1.2.3', TARGETOS: 'linux' };
  t.is(expandWord(word, env({ ...base, TARGETARCH: 'arm', TARGETVARIANT: 'v7' })), 'something-v1.2.3.linux-arm-v7.tar.gz');
  t.is(expandWord(word, env({ ...base, TARGETARCH: 'arm64', TARGETVARIANT: '' })), 'something-v1.2.3.linux-arm64.tar.gz');
  t.is(expandWord(word, env({ ...base, TARGETARCH: 'arm64' })), 'something-v1.2.3.linux-arm64.tar.gz');
});

// ------------------------------------------------------------ environments

test('envFromPairs: later pairs win, empty is set, missing is undefined', (t) => {
  const lookup = envFromPairs([['car', 'hat'], ['foo', ''], ['car', 'bike']]);
  t.is(lookup('car'), 'bike');
  t.is(lookup('foo'), '');
  t.is(lookup('nope'), undefined);
});

test('pairsFromAssignments splits at the first =', (t) => {
  t.deepEqual(pairsFromAssignments(['a=b=c', 'e=', 'bare']), [['a', 'b=c'], ['e', ''], ['bare', '']]);
});

// ---------------------------------------------------------- backtick escape

test('backtick escape: escapes quotes, $ and spaces; backslash is literal', (t) => {
  const opts = { escape: '`' } as const;
  const vars = env({ PWD: '/home' });
  t.is(expandWord('C:\\path\\$PWD', vars, opts), 'C:\\path\\/home');
  t.is(expandWord('`$PWD', vars, opts), '$PWD');
  t.is(expandWord('he`\'llo', vars, opts), "he'llo");
  t.is(expandWord('"a`"b"', vars, opts), 'a"b');
  t.is(expandWord('"a\\"', vars, opts), 'a\\');
  t.is(expandWord('"a``b"', vars, opts), 'a`b');
  t.is(expandWord('"a`b"', vars, opts), 'a`b'); // inside "..." only " $ ` are escapable
  t.is(expandWord('abc`', vars, opts), 'abc'); // trailing escape dropped
  t.deepEqual(expandWords('hello` there x', vars, opts), ['hello there', 'x']);
  t.deepEqual(expandWords('hello\\ there', vars, opts), ['hello\\', 'there']);
});

test('backtick escape also escapes glob characters in patterns', (t) => {
  t.is(expandWord('${FOO#`*}', env({ FOO: '*x' }), { escape: '`' }), 'x');
  t.is(expandWord('${FOO#`*}', env({ FOO: 'ab' }), { escape: '`' }), 'ab');
});

// ------------------------------------------------------------- skipUnsetEnv

test('skipUnsetEnv leaves unset references as written', (t) => {
  const opts = { skipUnsetEnv: true };
  const vars = env({ SET: 'v', EMPTY: '' });
  t.is(expandWord('$SET-$UNSET-${UNSET}', vars, opts), 'v-$UNSET-${UNSET}');
  t.is(expandWord('${UNSET:-d} ${UNSET+x} ${UNSET:?boom}', vars, opts), '${UNSET:-d} ${UNSET+x} ${UNSET:?boom}');
  t.is(expandWord('${UNSET##*/} ${UNSET%x} ${UNSET//a/b}', vars, opts), '${UNSET##*/} ${UNSET%x} ${UNSET//a/b}');
  t.is(expandWord('${EMPTY:-d}${SET:+y}', vars, opts), 'dy');
  t.throws(() => expandWord('${EMPTY:?boom}', vars, opts), { message: /EMPTY: boom/ });
});

// ---------------------------------------------------------------- raw modes

test('rawQuotes keeps quotes, rawEscapes keeps escapes', (t) => {
  const vars = env({ X: 'x' });
  t.is(expandWord(`'a'"$X"`, vars, { rawQuotes: true }), `'a'"x"`);
  t.is(expandWord('a\\ b "c\\"d" "e\\f"', vars, { rawEscapes: true }), 'a\\ b c\\"d e\\f');
  t.deepEqual(expandWords('<<"EOF"', vars, { rawQuotes: true }), ['<<"EOF"']);
});

test('skipProcessQuotes treats quotes as ordinary characters', (t) => {
  t.is(expandWord(`echo '$X' "$X"`, env({ X: 'x' }), { skipProcessQuotes: true }), `echo 'x' "x"`);
});

test('heredoc marker keeps its blanks in one word', (t) => {
  t.deepEqual(expandWords('cat <<  EOF > out', env({})), ['cat', '<<  EOF', '>', 'out']);
  t.deepEqual(expandWords('a <b', env({})), ['a', '<b']);
});

test('words: text before a modifier is kept in the same word', (t) => {
  t.deepEqual(expandWords('ab${X:-c d}e f', env({})), ['abc', 'de', 'f']);
});

// ------------------------------------------------------------------ errors

const errorOf = (word: string, vars: Record<string, string> = {}): ExpansionError => {
  try {
    expandWord(word, env(vars));
  } catch (e) {
    if (e instanceof ExpansionError) return e;
    throw e;
  }
  throw new Error(`${word} did not fail`);
};

test('error messages match BuildKit wording', (t) => {
  t.is(errorOf('${X:?}').message, 'failed to process "${X:?}": X: is not allowed to be unset');
  t.is(errorOf('${X:?}', { X: '' }).reason, 'X: is not allowed to be empty');
  t.is(errorOf('${X?}').reason, 'X: is not allowed to be unset');
  t.is(errorOf('${VAR:?message here$ARG}', { ARG: 'x' }).reason, 'VAR: message herex');
  t.is(errorOf('${VAR?message here$ARG}', { ARG: 'x' }).reason, 'VAR: message herex');
  t.is(errorOf('${X:=1}').reason, 'unsupported modifier (:=) in substitution');
  t.is(errorOf('${}').reason, 'syntax error: bad substitution');
  t.is(errorOf('${a').reason, "syntax error: missing '}'");
  t.is(errorOf('${a:-b').reason, "syntax error: missing '}'");
  t.is(errorOf('${a/b}').reason, "syntax error: missing '/' in ${}");
  t.is(errorOf('"abc').reason, 'unexpected end of statement while looking for matching double-quote');
  t.is(errorOf("'abc").reason, 'unexpected end of statement while looking for matching single-quote');
  const e = errorOf('${X:?}');
  t.is(e.word, '${X:?}');
  t.is(e.code, 'EXPANSION');
  t.true(e.userError);
  t.true(e instanceof DockerfileError);
  t.is(e.name, 'ExpansionError');
});

test('${X?msg} accepts a set but empty value, ${X:?msg} does not', (t) => {
  t.is(expandWord('${VAR?m}', env({ VAR: '' })), '');
  t.is(expandWord('${VAR:?m}', env({ VAR: 'plain' })), 'plain');
  t.throws(() => expandWord('${VAR:?m}', env({ VAR: '' })), { instanceOf: ExpansionError });
});

test('formatDockerfileError renders location and source line', (t) => {
  const e = errorOf('${X:?}').atLocation({ line: 12, col: 5, sourceLine: 'RUN echo ${X:?}' });
  t.is(
    formatDockerfileError(e),
    'Dockerfile:12:5: failed to process "${X:?}": X: is not allowed to be unset\n 12 | RUN echo ${X:?}',
  );
  // An already known location is not overwritten.
  t.is(e.atLocation({ line: 1 }).location?.line, 12);
});

test('formatDockerfileError: file name, no column, several source lines, no location', (t) => {
  const e = new DockerfileError('PARSE', 'bad thing', { file: 'sub/Dockerfile.dev', line: 9, sourceLine: 'RUN a \\\n  b' });
  t.is(formatDockerfileError(e), 'sub/Dockerfile.dev:9: bad thing\n  9 | RUN a \\\n 10 |   b');
  t.is(formatDockerfileError(new DockerfileError('PARSE', 'plain')), 'plain');
});
