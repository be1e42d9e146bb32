// `tsbuild images | head`, `tsbuild save IMAGE | head -c 10`: the reader of
// stdout went away. docker (Go) is killed by SIGPIPE then, which a shell
// reports as 141, and says nothing; Node ignores SIGPIPE and reports EPIPE
// as an error instead (an 'error' event on process.stdout, emitted before
// the failed write's caller hears of it): the command ends the same quiet
// way.

const STDOUT_GONE_EXIT = 128 + 13;

/** For a command that writes to stdout: its reader's going ends it at once, quietly. */
export function endQuietlyWhenStdoutGoes(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(STDOUT_GONE_EXIT);
    // As if nothing listened: an uncaught exception.
    throw err;
  });
}
