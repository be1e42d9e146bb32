import test, { type ExecutionContext } from 'ava';
import { DockerfileError, formatDockerfileError } from '../frontend/errors.js';
import { parseDockerfile, parseGoDuration, ENV_REPLACEMENT_INSTRUCTIONS, expandsVariables } from '../frontend/instructions/index.js';
import type { Instruction, InstructionKind } from '../frontend/instructions/index.js';

/** The typed instructions of the first stage after FROM. */
function stageOf(body: string): readonly Instruction[] {
  return parseDockerfile(`FROM alpine\n${body}`).stages[0]!.instructions;
}

function only<K extends InstructionKind>(kind: K, body: string): Extract<Instruction, { kind: K }> {
  const [first] = stageOf(body);
  if (!first || first.kind !== kind) throw new Error(`expected ${kind}, got ${first?.kind}`);
  return first as Extract<Instruction, { kind: K }>;
}

/** Asserts a DockerfileError with the code, on line 2 (the line after FROM), message matching. */
function rejects(t: ExecutionContext, body: string, code: string, message?: RegExp): DockerfileError {
  const err = t.throws(() => parseDockerfile(`FROM alpine\n${body}`, { file: 'Dockerfile' }));
  if (!(err instanceof DockerfileError)) throw new Error(`expected a DockerfileError, got ${String(err)}`);
  t.is(err.code, code, err.message);
  t.is(err.location?.line, 2);
  t.is(err.location?.file, 'Dockerfile');
  if (message) t.regex(err.message, message);
  return err;
}

// ---------------------------------------------------------------- structure

test('stages, names, meta ARGs and directives', (t) => {
  const df = parseDockerfile('# syntax=docker/dockerfile:1\nARG V=1\nFROM a:${V} AS Build\nRUN x\nFROM --platform=$BUILDPLATFORM build\nCMD y\n');
  t.is(df.directives.syntax, 'docker/dockerfile:1');
  t.deepEqual(df.metaArgs.map((a) => a.args), [[{ key: 'V', value: '1' }]]);
  t.is(df.stages.length, 2);
  t.is(df.stages[0]!.name, 'build');
  t.is(df.stages[0]!.from.image, 'a:${V}');
  t.deepEqual(df.stages[0]!.instructions.map((i) => i.kind), ['RUN']);
  t.is(df.stages[1]!.name, undefined);
  t.is(df.stages[1]!.from.platform, '$BUILDPLATFORM');
  t.is(df.stages[1]!.index, 1);
});

test('every instruction keeps its location and original text', (t) => {
  const df = parseDockerfile('FROM a\nRUN echo \\\n  hi\n', { file: 'ctx/Dockerfile' });
  const run = df.stages[0]!.instructions[0]!;
  t.deepEqual(run.location, { file: 'ctx/Dockerfile', startLine: 2, endLine: 3, sourceLine: 'RUN echo \\' });
  t.is(run.original, 'RUN echo   hi');
  t.is(run.keyword, 'RUN');
});

test('instructions before the first FROM other than ARG are rejected', (t) => {
  const err = t.throws(() => parseDockerfile('RUN x\nFROM a\n')) as DockerfileError;
  t.is(err.code, 'NO_BUILD_STAGE');
  t.is(err.location?.line, 1);
});

test('a Dockerfile with only ARGs has no stage', (t) => {
  t.is((t.throws(() => parseDockerfile('ARG a\n')) as DockerfileError).code, 'NO_BUILD_STAGE');
});

test('unknown instruction with a suggestion and column', (t) => {
  const err = rejects(t, '  RUNN echo', 'UNKNOWN_INSTRUCTION', /unknown instruction: RUNN \(did you mean RUN\?\)/);
  t.is(err.location?.col, 3);
  t.is(formatDockerfileError(err), 'Dockerfile:2:3: unknown instruction: RUNN (did you mean RUN?)\n 2 |   RUNN echo');
});

test('instruction keywords are case-insensitive', (t) => {
  t.is(only('RUN', 'run echo').kind, 'RUN');
});

// ---------------------------------------------------------------------- FROM

test('FROM: image, AS name (lower-cased), platform', (t) => {
  const from = parseDockerfile('FROM --platform=linux/arm64 alpine:3 as Base\n').stages[0]!.from;
  t.is(from.image, 'alpine:3');
  t.is(from.stageName, 'base');
  t.is(from.platform, 'linux/arm64');
});

test('FROM: bad stage names and argument counts', (t) => {
  const bad = t.throws(() => parseDockerfile('FROM a AS 1abc\n')) as DockerfileError;
  t.is(bad.code, 'BAD_STAGE_NAME');
  t.is(bad.location?.col, 11);
  t.is((t.throws(() => parseDockerfile('FROM a AS\n')) as DockerfileError).code, 'MISSING_ARGUMENT');
  t.is((t.throws(() => parseDockerfile('FROM a b c\n')) as DockerfileError).code, 'MISSING_ARGUMENT');
  t.is((t.throws(() => parseDockerfile('FROM\n')) as DockerfileError).code, 'MISSING_ARGUMENT');
  t.is((t.throws(() => parseDockerfile('FROM --plat=x a\n')) as DockerfileError).code, 'UNKNOWN_FLAG');
});

test('FROM: duplicate stage names are rejected', (t) => {
  const err = t.throws(() => parseDockerfile('FROM a AS x\nFROM b AS X\n')) as DockerfileError;
  t.is(err.code, 'DUPLICATE_STAGE_NAME');
  t.is(err.location?.line, 2);
});

// ----------------------------------------------------------------------- RUN

test('RUN: shell form, exec form, defaults', (t) => {
  const shell = only('RUN', 'RUN echo "$HOME" && ls');
  t.deepEqual(shell.command, { form: 'shell', command: 'echo "$HOME" && ls', heredocs: [] });
  t.is(shell.network, 'default');
  t.is(shell.security, 'sandbox');
  t.deepEqual(shell.mounts, []);
  t.deepEqual(only('RUN', 'RUN ["echo", "$HOME"]').command, { form: 'exec', args: ['echo', '$HOME'] });
});

test('RUN: heredoc script with chomp applied', (t) => {
  const run = only('RUN', 'RUN <<-EOF bash\n\techo hi\n\tEOF\n');
  t.deepEqual(run.command, {
    form: 'shell',
    command: '<<-EOF bash',
    heredocs: [{ name: 'EOF', content: 'echo hi\n', expand: true, chomp: true, fileDescriptor: 0 }],
  });
});

test('RUN: --network and --security values', (t) => {
  t.is(only('RUN', 'RUN --network=none true').network, 'none');
  t.is(only('RUN', 'RUN --network=host true').network, 'host');
  t.is(only('RUN', 'RUN --security=insecure true').security, 'insecure');
  rejects(t, 'RUN --network=bridge true', 'BAD_FLAG_VALUE', /invalid network mode "bridge"/);
  rejects(t, 'RUN --security=root true', 'BAD_FLAG_VALUE', /security "root" is not valid/);
  rejects(t, 'RUN --network true', 'BAD_FLAG_VALUE', /missing a value on flag: --network/);
  rejects(t, 'RUN --network=none --network=host true', 'DUPLICATE_FLAG');
});

test('RUN: unknown flags name the flag and its column', (t) => {
  const err = rejects(t, 'RUN --mont=type=cache,target=/x true', 'UNKNOWN_FLAG', /unknown flag: --mont \(did you mean --mount\?\)/);
  t.is(err.location?.col, 5);
});

test('RUN: needs a command', (t) => {
  rejects(t, 'RUN', 'MISSING_ARGUMENT');
  t.deepEqual(only('RUN', 'RUN []').command, { form: 'exec', args: [] });
});

// ----------------------------------------------------------- CMD/ENTRYPOINT

test('CMD and ENTRYPOINT: shell and exec forms, no flags', (t) => {
  t.deepEqual(only('CMD', 'CMD ["a", "b"]').command, { form: 'exec', args: ['a', 'b'] });
  t.deepEqual(only('CMD', 'CMD a b').command, { form: 'shell', command: 'a b', heredocs: [] });
  t.deepEqual(only('ENTRYPOINT', 'ENTRYPOINT []').command, { form: 'exec', args: [] });
  t.deepEqual(only('ENTRYPOINT', 'ENTRYPOINT exec x').command, { form: 'shell', command: 'exec x', heredocs: [] });
  rejects(t, 'CMD --x a', 'UNKNOWN_FLAG', /CMD takes no flags/);
  rejects(t, 'ENTRYPOINT', 'MISSING_ARGUMENT');
});

// --------------------------------------------------------------------- SHELL

test('SHELL: JSON only, not empty', (t) => {
  t.deepEqual(only('SHELL', 'SHELL ["/bin/bash", "-c"]').shell, ['/bin/bash', '-c']);
  rejects(t, 'SHELL /bin/bash -c', 'BAD_ARGUMENT', /JSON form/);
  rejects(t, 'SHELL []', 'MISSING_ARGUMENT');
});

// --------------------------------------------------------------- ENV / LABEL

test('ENV: both forms, raw values', (t) => {
  t.deepEqual(only('ENV', 'ENV A=1 B="x y" C=${A}').pairs, [
    { key: 'A', value: '1' },
    { key: 'B', value: '"x y"' },
    { key: 'C', value: '${A}' },
  ]);
  t.deepEqual(only('ENV', 'ENV PATH /usr/bin:$PATH').pairs, [{ key: 'PATH', value: '/usr/bin:$PATH' }]);
  rejects(t, 'ENV', 'MISSING_ARGUMENT');
  rejects(t, 'ENV =x', 'BAD_ARGUMENT', /names can not be blank/);
  rejects(t, 'ENV a', 'MISSING_ARGUMENT', /two arguments/);
});

test('LABEL: pairs', (t) => {
  t.deepEqual(only('LABEL', 'LABEL "com.example.a"="b c" d=e').pairs, [
    { key: '"com.example.a"', value: '"b c"' },
    { key: 'd', value: 'e' },
  ]);
  rejects(t, 'LABEL', 'MISSING_ARGUMENT');
});

// ----------------------------------------------------------------------- ARG

test('ARG: several definitions, with and without defaults', (t) => {
  t.deepEqual(only('ARG', 'ARG a=1 b c= d="x y"').args, [
    { key: 'a', value: '1' },
    { key: 'b' },
    { key: 'c', value: '' },
    { key: 'd', value: '"x y"' },
  ]);
  rejects(t, 'ARG', 'MISSING_ARGUMENT');
  rejects(t, 'ARG =1', 'BAD_ARGUMENT');
});

// -------------------------------------------------------------------- EXPOSE

test('EXPOSE: ports, protocols, ranges, variables', (t) => {
  t.deepEqual(only('EXPOSE', 'EXPOSE 80 443/tcp 53/UDP 8000-8010 9000-9001/sctp $PORT').ports, [
    { raw: '80', port: 80, protocol: 'tcp' },
    { raw: '443/tcp', port: 443, protocol: 'tcp' },
    { raw: '53/UDP', port: 53, protocol: 'udp' },
    { raw: '8000-8010', port: 8000, endPort: 8010, protocol: 'tcp' },
    { raw: '9000-9001/sctp', port: 9000, endPort: 9001, protocol: 'sctp' },
    { raw: '$PORT' },
  ]);
  rejects(t, 'EXPOSE http', 'BAD_ARGUMENT', /invalid port "http"/);
  rejects(t, 'EXPOSE 80/icmp', 'BAD_ARGUMENT', /invalid protocol/);
  rejects(t, 'EXPOSE 70000', 'BAD_ARGUMENT', /out of range/);
  rejects(t, 'EXPOSE 90-80', 'BAD_ARGUMENT', /end is before start/);
  rejects(t, 'EXPOSE', 'MISSING_ARGUMENT');
});

// ---------------------------------------------------------- VOLUME/USER/WORKDIR

test('VOLUME: JSON and plain forms', (t) => {
  t.deepEqual(only('VOLUME', 'VOLUME ["/a", "/b c"]').paths, ['/a', '/b c']);
  t.deepEqual(only('VOLUME', 'VOLUME /a /b').paths, ['/a', '/b']);
  rejects(t, 'VOLUME [" "]', 'BAD_ARGUMENT', /empty string/);
  rejects(t, 'VOLUME []', 'MISSING_ARGUMENT');
});

test('USER: user and user:group', (t) => {
  t.is(only('USER', 'USER app').user, 'app');
  t.is(only('USER', 'USER 1000:1000').user, '1000:1000');
  t.is(only('USER', 'USER ${U}:${G}').user, '${U}:${G}');
  rejects(t, 'USER a:', 'BAD_ARGUMENT');
  rejects(t, 'USER a:b:c', 'BAD_ARGUMENT');
  rejects(t, 'USER', 'MISSING_ARGUMENT');
});

test('WORKDIR: one path', (t) => {
  t.is(only('WORKDIR', 'WORKDIR /app/$X').path, '/app/$X');
  rejects(t, 'WORKDIR', 'MISSING_ARGUMENT');
  rejects(t, 'WORKDIR --x /a', 'UNKNOWN_FLAG');
});

// ----------------------------------------------------------------- COPY / ADD

test('COPY: all flags', (t) => {
  const copy = only(
    'COPY',
    'COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=.git ./a ./b /dst/',
  );
  t.deepEqual(copy.sources, [{ kind: 'path', path: './a' }, { kind: 'path', path: './b' }]);
  t.is(copy.destination, '/dst/');
  t.is(copy.from, 'build');
  t.is(copy.chown, 'app:app');
  t.is(copy.chmod, '0755');
  t.true(copy.link);
  t.true(copy.parents);
  t.deepEqual(copy.excludes, ['*.md', '.git']);
  t.false(copy.json);
});

test('COPY: defaults, JSON form, boolean flag values', (t) => {
  const copy = only('COPY', 'COPY ["a b", "/c d"]');
  t.deepEqual(copy.sources, [{ kind: 'path', path: 'a b' }]);
  t.is(copy.destination, '/c d');
  t.true(copy.json);
  t.false(copy.link);
  t.is(copy.from, undefined);
  t.false(only('COPY', 'COPY --link=false a b').link);
  t.true(only('COPY', 'COPY --link=TRUE a b').link);
  rejects(t, 'COPY --link=yes a b', 'BAD_FLAG_VALUE', /expecting boolean value/);
  rejects(t, 'COPY --link= a b', 'BAD_FLAG_VALUE');
});

test('COPY: heredoc sources in order, destination must not be a heredoc', (t) => {
  const copy = only('COPY', "COPY a <<one <<'two' /dst/\n1 $X\none\n2 $X\ntwo\n");
  t.deepEqual(copy.sources, [
    { kind: 'path', path: 'a' },
    { kind: 'heredoc', file: { name: 'one', content: '1 $X\n', expand: true, chomp: false, fileDescriptor: 0 } },
    { kind: 'heredoc', file: { name: 'two', content: '2 $X\n', expand: false, chomp: false, fileDescriptor: 0 } },
  ]);
  rejects(t, 'COPY a <<EOF\nx\nEOF\n', 'BAD_HEREDOC', /destination/);
});

test('COPY: chown/chmod validated unless they hold variables', (t) => {
  t.is(only('COPY', 'COPY --chmod=u+x,g-w a b').chmod, 'u+x,g-w');
  t.is(only('COPY', 'COPY --chmod=$MODE --chown=$U a b').chmod, '$MODE');
  rejects(t, 'COPY --chmod=999 a b', 'BAD_FLAG_VALUE', /invalid chmod/);
  rejects(t, 'COPY --chown=a:b:c a b', 'BAD_FLAG_VALUE', /user\[:group\]/);
  rejects(t, 'COPY --checksum=sha256:abc a b', 'UNKNOWN_FLAG');
  rejects(t, 'COPY a', 'MISSING_ARGUMENT', /Destination could not be determined/);
  rejects(t, 'COPY', 'MISSING_ARGUMENT');
});

test('ADD: checksum, keep-git-dir, unpack, excludes', (t) => {
  const sum = 'sha256:' + 'a'.repeat(64);
  const add = only('ADD', `ADD --checksum=${sum} --keep-git-dir --unpack=false --exclude=x --chown=1:2 https://e.x/a.tgz /`);
  t.is(add.checksum, sum);
  t.true(add.keepGitDir);
  t.false(add.unpack);
  t.deepEqual(add.excludes, ['x']);
  t.is(add.chown, '1:2');
  const plain = only('ADD', 'ADD a /');
  t.is(plain.keepGitDir, undefined);
  t.is(plain.unpack, undefined);
  rejects(t, 'ADD --checksum=md5:abc a /', 'BAD_FLAG_VALUE', /invalid checksum/);
  rejects(t, 'ADD --from=x a /', 'UNKNOWN_FLAG');
  rejects(t, 'ADD --parents a /', 'UNKNOWN_FLAG');
});

// ------------------------------------------------------------------ ONBUILD

test('ONBUILD: nested typed trigger and stored expression', (t) => {
  const onbuild = only('ONBUILD', 'ONBUILD COPY --chown=1:1 . /app');
  t.is(onbuild.expression, 'COPY --chown=1:1 . /app');
  t.is(onbuild.trigger.kind, 'COPY');
  const withHeredoc = only('ONBUILD', 'onbuild RUN <<EOF\necho hi\nEOF\n');
  t.is(withHeredoc.expression, 'RUN <<EOF\necho hi\nEOF');
});

test('ONBUILD: forbidden triggers and invalid nested instructions', (t) => {
  rejects(t, 'ONBUILD ONBUILD RUN x', 'BAD_ONBUILD_TRIGGER', /Chaining ONBUILD/);
  rejects(t, 'ONBUILD FROM x', 'BAD_ONBUILD_TRIGGER', /FROM isn't allowed/);
  rejects(t, 'ONBUILD MAINTAINER me', 'BAD_ONBUILD_TRIGGER');
  rejects(t, 'ONBUILD', 'MISSING_ARGUMENT');
  rejects(t, 'ONBUILD RUN --bad x', 'UNKNOWN_FLAG');
  rejects(t, 'ONBUILD FOO x', 'UNKNOWN_INSTRUCTION');
});

// ----------------------------------------------------------------- STOPSIGNAL

test('STOPSIGNAL: names, numbers, variables', (t) => {
  for (const s of ['SIGTERM', 'TERM', 'sigkill', '9', 'SIGRTMIN+3', '$SIG']) t.is(only('STOPSIGNAL', `STOPSIGNAL ${s}`).signal, s);
  rejects(t, 'STOPSIGNAL SIGFOO', 'BAD_ARGUMENT', /invalid signal/);
  rejects(t, 'STOPSIGNAL', 'MISSING_ARGUMENT');
});

// ---------------------------------------------------------------- HEALTHCHECK

test('HEALTHCHECK: NONE, CMD shell and exec, all options', (t) => {
  t.deepEqual(only('HEALTHCHECK', 'HEALTHCHECK NONE').test, ['NONE']);
  const hc = only('HEALTHCHECK', 'HEALTHCHECK --interval=30s --timeout=1m --start-period=1h2m --start-interval=500ms --retries=5 CMD curl -f x');
  t.deepEqual(hc.test, ['CMD-SHELL', 'curl -f x']);
  t.deepEqual(hc.options, {
    interval: 30e9,
    timeout: 60e9,
    startPeriod: 3720e9,
    startInterval: 500e6,
    retries: 5,
  });
  t.deepEqual(only('HEALTHCHECK', 'HEALTHCHECK cmd ["a", "b"]').test, ['CMD', 'a', 'b']);
  t.deepEqual(only('HEALTHCHECK', 'HEALTHCHECK --interval=0s CMD a').options, { interval: 0 });
});

test('HEALTHCHECK: errors', (t) => {
  rejects(t, 'HEALTHCHECK', 'MISSING_ARGUMENT');
  rejects(t, 'HEALTHCHECK NONE x', 'BAD_ARGUMENT', /takes no arguments/);
  rejects(t, 'HEALTHCHECK --interval=1s NONE', 'UNKNOWN_FLAG', /NONE takes no flags/);
  rejects(t, 'HEALTHCHECK CMD', 'MISSING_ARGUMENT', /Missing command/);
  rejects(t, 'HEALTHCHECK CONNECT TCP 7000', 'BAD_ARGUMENT', /Unknown type "CONNECT"/);
  rejects(t, 'HEALTHCHECK --interval=10 CMD a', 'BAD_FLAG_VALUE', /missing unit/);
  rejects(t, 'HEALTHCHECK --timeout=1us CMD a', 'BAD_FLAG_VALUE', /cannot be less than 1ms/);
  rejects(t, 'HEALTHCHECK --retries=-1 CMD a', 'BAD_FLAG_VALUE', /cannot be negative/);
  rejects(t, 'HEALTHCHECK --retries=x CMD a', 'BAD_FLAG_VALUE');
  rejects(t, 'HEALTHCHECK --intervl=1s CMD a', 'UNKNOWN_FLAG', /did you mean --interval/);
});

test('Go duration parsing', (t) => {
  t.is(parseGoDuration('0'), 0);
  t.is(parseGoDuration('1h'), 3600e9);
  t.is(parseGoDuration('1.5s'), 1.5e9);
  t.is(parseGoDuration('-2m3s'), -123e9);
  t.is(parseGoDuration('3us'), 3000);
  t.is(parseGoDuration('3µs'), 3000);
  t.is(parseGoDuration('7ns'), 7);
  t.is(parseGoDuration('.5ms'), 500000);
  for (const bad of ['', '1', 's', '1x', '1.s.', '--1s', '9999999999h']) {
    t.throws(() => parseGoDuration(bad), undefined, bad);
  }
});

// ----------------------------------------------------------------- MAINTAINER

test('MAINTAINER: one raw string', (t) => {
  t.is(only('MAINTAINER', 'MAINTAINER Jane Doe <j@d.e>').maintainer, 'Jane Doe <j@d.e>');
  rejects(t, 'MAINTAINER', 'MISSING_ARGUMENT');
});

// ------------------------------------------------------------------ expansion

test('variable expansion applies to the documented instructions', (t) => {
  for (const kind of ['ADD', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR', 'ONBUILD'] as const) {
    t.true(ENV_REPLACEMENT_INSTRUCTIONS.has(kind), kind);
  }
  for (const kind of ['CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK', 'MAINTAINER'] as const) {
    t.false(ENV_REPLACEMENT_INSTRUCTIONS.has(kind), kind);
    t.false(expandsVariables(kind), kind);
  }
  t.true(expandsVariables('RUN')); // its --mount values
  t.true(expandsVariables('ARG'));
});
