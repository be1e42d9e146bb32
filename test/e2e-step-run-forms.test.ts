// End to end: the ways a RUN names its command (shell form through SHELL,
// exec form, heredocs) as BuildKit's dockerfile frontend runs them.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tsbuild } from './helpers/cli.js';
import { e2eRunSuite } from './e2e-step-run-helpers.js';
import { build } from './e2e-image-helpers.js';

const suite = e2eRunSuite('e2e RUN forms');
const { skip, it, scratchDir, context } = suite;

async function buildLocal(dockerfile: string): Promise<{ out: string; log: string }> {
  const ctx = await context({});
  const out = path.join(await scratchDir('out'), 'rootfs');
  const r = await build(suite.store.root, ctx, dockerfile, ['-o', `type=local,dest=${out}`]);
  return { out, log: r.stdout + r.stderr };
}
const text = (root: string, p: string) => readFile(path.join(root, p), 'utf8');

it('shell form runs through SHELL; exec form runs without a shell', async (t) => {
  const { out, log } = await buildLocal(`FROM busybox:latest
RUN echo "$0" > /default-shell
SHELL ["/bin/sh", "-ec"]
RUN echo "$0 $-" > /custom-shell
RUN ["echo", "exec-form $HOME"]
RUN ["/bin/sh", "-c", "echo exec > /exec.txt"]
`);
  t.is(await text(out, 'default-shell'), '/bin/sh\n');
  t.regex(await text(out, 'custom-shell'), /^\/bin\/sh \w*e\w*\n$/);
  // Exec form: no shell, so `$HOME` reaches echo as it is.
  t.regex(log, /exec-form \$HOME/);
  t.is(await text(out, 'exec.txt'), 'exec\n');
});

it('SHELL ["/bin/sh", "-ec"] ends the step at the first failing command', async (t) => {
  const ctx = await context({ Dockerfile: `FROM busybox:latest
SHELL ["/bin/sh", "-ec"]
RUN false; echo not-reached
` });
  const r = await tsbuild(['build', '--progress=plain', ctx], { root: suite.store.root });
  t.not(r.code, 0);
  t.regex(r.stderr, /process "\/bin\/sh -ec false; echo not-reached" did not complete successfully: exit code: 1/);
  t.notRegex(r.stderr, /\d not-reached/);
});

it('heredocs: a script, a script for a named interpreter, a shebang script, cat <<EOF > file, two on a line, <<- tabs', async (t) => {
  const { out, log } = await buildLocal(`FROM busybox:latest
RUN <<EOF
echo line1 > /script.txt
echo line2 >> /script.txt
EOF
RUN <<EOF sh
echo "inner \\$0" > /named.txt
EOF
RUN <<EOF
#!/bin/sh
echo "shebang $0" > /shebang.txt
EOF
RUN cat <<EOF > /cat.txt
plain content
  indented
EOF
RUN cat <<A > /a.txt && cat <<B > /b.txt
first doc
A
second doc
B
RUN <<-EOF
\techo tabbed > /tabbed.txt
\tEOF
RUN cat <<-EOF > /stripped.txt
\t\tno tabs left
\tEOF
`);
  t.is(await text(out, 'script.txt'), 'line1\nline2\n');
  // The document is sh's stdin (the outer shell expanded nothing escaped).
  t.is(await text(out, 'named.txt'), 'inner sh\n');
  // BuildKit runs a shebang heredoc as a file mounted under /dev/pipes/.
  t.is(await text(out, 'shebang.txt'), 'shebang /dev/pipes/EOF\n');
  t.is(await text(out, 'cat.txt'), 'plain content\n  indented\n');
  t.is(await text(out, 'a.txt'), 'first doc\n');
  t.is(await text(out, 'b.txt'), 'second doc\n');
  t.is(await text(out, 'tabbed.txt'), 'tabbed\n');
  t.is(await text(out, 'stripped.txt'), 'no tabs left\n');
  t.regex(log, /RUN <<EOF \(echo line1 > \/script\.txt\.\.\.\)/);
  // The script mounted for the shebang heredoc is not part of the image.
  await t.throwsAsync(readFile(path.join(out, 'dev/pipes/EOF')));
});

// runc (and so BuildKit and docker run) sets HOME from the user's passwd
// entry when the image's env has none; run-step.ts passes no HOME.
it('RUN has HOME from the user\'s passwd entry, as runc sets it', async (t) => {
  const { out } = await buildLocal(`FROM busybox:latest
RUN echo "$HOME" > /root-home
USER app
RUN echo "$HOME" > /tmp/app-home
`);
  t.is(await text(out, 'root-home'), '/root\n');
  t.is(await text(out, 'tmp/app-home'), '/home/app\n');
});
