import test from 'ava';
import { DockerfileError } from '../frontend/errors.js';
import { chompHeredocContent, dumpBuildkit, goQuote, parseAst, parseHeredocMarker } from '../frontend/parser/index.js';
import type { Heredoc } from '../frontend/parser/index.js';

const dump = (text: string) => dumpBuildkit(parseAst(text));

function parseError(t: import('ava').ExecutionContext, text: string): DockerfileError {
  const err = t.throws(() => parseAst(text, { file: 'Dockerfile' }));
  if (!(err instanceof DockerfileError)) throw new Error(`expected a DockerfileError, got ${String(err)}`);
  return err;
}

// ---------------------------------------------------------------- directives

test('directives: syntax, escape and check are read, case-insensitive, with spaces', (t) => {
  const ast = parseAst('# Syntax = docker/dockerfile:1.7\n#ESCAPE=`\n# check=skip=all\nFROM a\nRUN echo `\n  hi\n');
  t.deepEqual(ast.directives, { syntax: 'docker/dockerfile:1.7', escape: '`', check: 'skip=all' });
  t.is(dumpBuildkit(ast), '(from "a")\n(run "echo   hi")\n');
});

test('directives: default escape is backslash and no syntax', (t) => {
  t.deepEqual(parseAst('FROM a\n').directives, { escape: '\\' });
});

test('directives: only before the first instruction, comment or blank line', (t) => {
  t.is(parseAst('# hello\n# escape=`\nFROM a\n').directives.escape, '\\');
  t.is(parseAst('\n# escape=`\nFROM a\n').directives.escape, '\\');
  t.is(parseAst('FROM a\n# escape=`\n').directives.escape, '\\');
  // An unknown directive ends the block too.
  t.is(parseAst('# foo=bar\n# escape=`\nFROM a\n').directives.escape, '\\');
});

test('directives: a directive line is not a comment of the next instruction', (t) => {
  const ast = parseAst('# syntax=x\n# about a\nFROM a\n');
  t.deepEqual(ast.instructions[0]!.comments, ['about a']);
});

test('directives: a repeated directive is an error on its line', (t) => {
  const err = parseError(t, '# escape=\\\n# escape=`\nFROM a\n');
  t.is(err.code, 'BAD_DIRECTIVE');
  t.is(err.location?.line, 2);
  t.regex(err.message, /only one escape parser directive/);
});

test('directives: an invalid escape character is an error', (t) => {
  const err = parseError(t, '# escape=x\nFROM a\n');
  t.is(err.code, 'BAD_DIRECTIVE');
  t.is(err.location?.line, 1);
});

test('a byte-order mark at the start is ignored', (t) => {
  const ast = parseAst('\ufeff# escape=`\nFROM a\n');
  t.is(ast.directives.escape, '`');
  t.is(ast.instructions[0]!.keyword, 'FROM');
});

// ------------------------------------------------------------- continuations

test('continuations: CRLF line endings behave like LF', (t) => {
  t.is(dump('FROM a\r\nRUN echo a \\\r\n  b\r\nCMD ["x"]\r\n'), '(from "a")\n(run "echo a   b")\n(cmd "x")\n');
});

test('continuations: comment and blank lines inside are skipped; blank ones warn', (t) => {
  const ast = parseAst('FROM a\nRUN one \\\n# comment\n  two \\\n\n  three\n');
  t.is(dumpBuildkit(ast), '(from "a")\n(run "one   two   three")\n');
  t.is(ast.warnings.length, 1);
  t.regex(ast.warnings[0]!.message, /Empty continuation line/);
  t.is(ast.instructions[1]!.startLine, 2);
  t.is(ast.instructions[1]!.endLine, 6);
});

test('continuations: an escaped escape at the end does not continue', (t) => {
  t.is(dump('FROM a\nENV C trailing\\\\\nENV D next\n'), '(from "a")\n(env "C" "trailing\\\\\\\\" "")\n(env "D" "next" "")\n');
});

test('continuations: trailing escape at end of file', (t) => {
  t.is(dump('FROM a\nRUN x \\'), '(from "a")\n(run "x")\n');
  t.is(dump('FROM a\nRUN x \\\n'), '(from "a")\n(run "x")\n');
});

test('continuations: escape followed by spaces and tabs still continues', (t) => {
  t.is(dump('FROM a\nRUN x \\  \t\ny\n'), '(from "a")\n(run "x y")\n');
});

test('line numbers: start and end lines of each instruction', (t) => {
  const ast = parseAst('\n# c\nFROM a\n\nRUN a \\\n b \\\n c\nCMD x\n');
  t.deepEqual(
    ast.instructions.map((n) => [n.keyword, n.startLine, n.endLine]),
    [['FROM', 3, 3], ['RUN', 5, 7], ['CMD', 8, 8]],
  );
  t.is(ast.instructions[1]!.sourceLine, 'RUN a \\');
  t.is(ast.instructions[1]!.original, 'RUN a  b  c');
});

// -------------------------------------------------------------- argument forms

test('JSON form: valid arrays are exec form, invalid JSON falls back to shell form', (t) => {
  const ast = parseAst('FROM a\nCMD ["a", "b"]\nCMD [\'a\']\nCMD ["a" "b"]\nRUN [ "x" ] trailing\n');
  t.deepEqual(ast.instructions.slice(1).map((n) => [n.json, n.args]), [
    [true, ['a', 'b']],
    [false, ["['a']"]],
    [false, ['["a" "b"]']],
    [false, ['[ "x" ] trailing']],
  ]);
});

test('JSON form: a JSON array of non-strings is an error', (t) => {
  const err = parseError(t, 'FROM a\nCMD ["a", 1]\n');
  t.is(err.code, 'INVALID_JSON');
  t.is(err.location?.line, 2);
});

test('JSON form for COPY/ADD/VOLUME, whitespace list otherwise', (t) => {
  t.is(dump('FROM a\nCOPY ["a b", "/c"]\nVOLUME /a  /b\n'), '(from "a")\n(copy "a b" "/c")\n(volume "/a" "/b")\n');
});

test('flags are cut from the front, quotes and escapes removed, -- ends them', (t) => {
  const ast = parseAst('FROM a\nRUN --mount="type=bind,\\"source=a,b\\"" --network=none -- --not-a-flag\n');
  const run = ast.instructions[1]!;
  t.deepEqual(run.flags, ['--mount=type=bind,"source=a,b"', '--network=none']);
  t.deepEqual(run.args, ['--not-a-flag']);
});

test('ENV and LABEL: key=value pairs keep quotes; legacy form keeps the rest', (t) => {
  const ast = parseAst('FROM a\nENV a="x y" b=c\\ d\nENV legacy value with  spaces\nLABEL "k"=v\n');
  t.deepEqual(ast.instructions[1]!.pairs, [
    { key: 'a', value: '"x y"', hasEquals: true },
    { key: 'b', value: 'c\\ d', hasEquals: true },
  ]);
  t.deepEqual(ast.instructions[2]!.pairs, [{ key: 'legacy', value: 'value with  spaces', hasEquals: false }]);
  t.deepEqual(ast.instructions[3]!.pairs, [{ key: '"k"', value: 'v', hasEquals: true }]);
});

test('ENV: a word without = after a pair is an error', (t) => {
  const err = parseError(t, 'FROM a\nENV a=b c\n');
  t.is(err.code, 'BAD_SYNTAX');
  t.is(err.location?.line, 2);
});

test('ENV and LABEL in legacy form need a value', (t) => {
  t.is(parseError(t, 'FROM a\nLABEL key\n').code, 'MISSING_ARGUMENT');
});

test('ARG keeps each word', (t) => {
  t.deepEqual(parseAst('ARG a=1 b "c=d e"\n').instructions[0]!.args, ['a=1', 'b', '"c=d e"']);
});

test('HEALTHCHECK: type word first', (t) => {
  t.is(dump('FROM a\nHEALTHCHECK NONE\nHEALTHCHECK --retries=2 CMD ["a"]\n'), '(from "a")\n(healthcheck "NONE")\n(healthcheck ["--retries=2"] "CMD" "a")\n');
});

test('ONBUILD: nested instruction with its own flags and JSON', (t) => {
  const ast = parseAst('FROM a\nONBUILD COPY --from=x ["a", "b"]\n');
  const child = ast.instructions[1]!.child!;
  t.is(child.name, 'copy');
  t.deepEqual(child.flags, ['--from=x']);
  t.true(child.json);
  t.is(dumpBuildkit(ast), '(from "a")\n(onbuild (copy ["--from=x"] "a" "b"))\n');
});

test('unknown instructions are kept for the typed layer to reject', (t) => {
  const ast = parseAst('FROM a\nFOO bar\n');
  t.is(ast.instructions[1]!.name, 'foo');
  t.is(dumpBuildkit(ast), '(from "a")\n(foo "")\n');
});

test('a file with only comments and blank lines has no instructions', (t) => {
  const err = parseError(t, '# a\n\n   \n');
  t.is(err.code, 'EMPTY_DOCKERFILE');
});

// ------------------------------------------------------------------ heredocs

function heredocsOf(text: string): Heredoc[][] {
  return parseAst(text).instructions.slice(1).map((n) => n.heredocs);
}

const doc = (name: string, content: string, extra: Partial<Heredoc> = {}): Heredoc => ({
  name,
  content,
  expand: true,
  chomp: false,
  fileDescriptor: 0,
  ...extra,
});

// The same cases as BuildKit's TestParseExtractsHeredoc.
test('heredocs: names, bodies, expansion, chomp and file descriptors as BuildKit', (t) => {
  const text = [
    'FROM alpine:3.6',
    'USER <<INVALID',
    'INVALID',
    'RUN <<EMPTY',
    'EMPTY',
    'RUN 3<<EMPTY2',
    'EMPTY2',
    'RUN "<<NOHEREDOC"',
    'RUN <<INDENT',
    '\tfoo',
    '\tbar',
    'INDENT',
    'RUN <<-UNINDENT2',
    '\tbaz',
    '\tquux',
    '\tUNINDENT2',
    "RUN <<-'NOEXPAND'",
    "\tdon't expand $NAME",
    'NOEXPAND',
    'RUN --mount=type=cache,target=/foo <<MOUNT',
    'echo hello',
    'MOUNT',
    'COPY <<FILE1 <<FILE2 /dest',
    'content 1',
    'FILE1',
    'content 2',
    'FILE2',
    'COPY <<X <<Y /dest',
    'Y',
    'X',
    'X',
    'Y',
    'RUN <<COMPLEX python3',
    "print('hello world')",
    'COMPLEX',
    "RUN <<eo'f'",
    'echo foo',
    'eof',
    "RUN <<eo\\'f",
    'echo foo',
    "eo'f",
    "RUN <<'e'o\\'f",
    'echo foo',
    "eo'f",
    "RUN <<'one two'",
    'echo bar',
    'one two',
    'RUN <<$EOF',
    '$EOF',
    'RUN <<  EOF',
    'EOF',
    'RUN <<  EOF  > foo',
    'EOF',
    '',
  ].join('\n');
  t.deepEqual(heredocsOf(text), [
    [],
    [], // the INVALID line is an unknown instruction
    [doc('EMPTY', '')],
    [doc('EMPTY2', '', { fileDescriptor: 3 })],
    [],
    [doc('INDENT', '\tfoo\n\tbar\n')],
    [doc('UNINDENT2', '\tbaz\n\tquux\n', { chomp: true })],
    [doc('NOEXPAND', "\tdon't expand $NAME\n", { chomp: true, expand: false })],
    [doc('MOUNT', 'echo hello\n')],
    [doc('FILE1', 'content 1\n'), doc('FILE2', 'content 2\n')],
    [doc('X', 'Y\n'), doc('Y', 'X\n')],
    [doc('COMPLEX', "print('hello world')\n")],
    [doc('eof', 'echo foo\n', { expand: false })],
    [doc("eo'f", 'echo foo\n')],
    [doc("eo'f", 'echo foo\n', { expand: false })],
    [doc('one two', 'echo bar\n', { expand: false })],
    [doc('$EOF', '')],
    [doc('EOF', '')],
    [doc('EOF', '')],
  ]);
});

test('heredocs: not read for JSON form or for other instructions', (t) => {
  const ast = parseAst('FROM a\nRUN ["<<EOF"]\nCMD <<EOF\nEOF\n');
  t.deepEqual(ast.instructions[1]!.heredocs, []);
  t.deepEqual(ast.instructions[2]!.heredocs, []);
  t.is(ast.instructions.length, 4); // the EOF line became an (unknown) instruction
});

test('heredocs: ONBUILD RUN reads the body', (t) => {
  const ast = parseAst('FROM a\nONBUILD RUN <<EOF\nhi\nEOF\nCMD x\n');
  t.deepEqual(ast.instructions[1]!.heredocs, [doc('EOF', 'hi\n')]);
  t.is(ast.instructions[1]!.endLine, 4);
  t.is(ast.instructions[2]!.startLine, 5);
});

test('heredocs: CRLF bodies keep their line endings, terminator matched without them', (t) => {
  t.deepEqual(heredocsOf('FROM a\r\nRUN <<EOF\r\nhi\r\nEOF\r\n'), [[doc('EOF', 'hi\r\n')]]);
});

test('heredocs: an unterminated heredoc is an error at the instruction', (t) => {
  const err = parseError(t, 'FROM a\nRUN <<EOF\necho hi\n');
  t.is(err.code, 'UNTERMINATED_HEREDOC');
  t.is(err.location?.line, 2);
  t.is(err.location?.endLine, 3);
  t.is(err.location?.sourceLine, 'RUN <<EOF');
});

test('heredocs: a line with unbalanced quotes has no heredocs (as in BuildKit)', (t) => {
  const ast = parseAst("FROM a\nRUN <<'EOF\nEOF\n");
  t.deepEqual(ast.instructions[1]!.heredocs, []);
  t.is(ast.instructions[2]!.name, 'eof');
});

test('heredocs: markers inside quotes are not heredocs', (t) => {
  t.deepEqual(heredocsOf("FROM a\nRUN echo '<<EOF'\n"), [[]]);
});

test('heredoc marker helper: valid, invalid and non-markers', (t) => {
  for (const src of ['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"', '<<EO"F"', '<< EOF', '<<- EOF']) {
    t.is(parseHeredocMarker(src)?.name, 'EOF', src);
  }
  for (const src of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF', '<<EOF sh']) {
    t.is(parseHeredocMarker(src), undefined, src);
  }
  for (const src of ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']) {
    t.throws(() => parseHeredocMarker(src), undefined, src);
  }
});

test('chomp removes leading tabs of every line only', (t) => {
  t.is(chompHeredocContent('\thello\n\t\tworld\n  x\t\n'), 'hello\nworld\n  x\t\n');
});

// ---------------------------------------------------------------------- dump

test('goQuote matches Go %q for control, unicode and non-printable characters', (t) => {
  t.is(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  t.is(goQuote('\x00\x07\x1b\x7f'), '"\\x00\\a\\x1b\\x7f"');
  t.is(goQuote('☃ é'), '"☃ é"');
  t.is(goQuote('\u00a0\u200b'), '"\\u00a0\\u200b"');
});
