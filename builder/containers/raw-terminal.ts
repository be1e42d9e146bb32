// Raw mode for the user's terminal while a container's pty owns it: keys
// (ctrl-c included) go to the container as bytes. Restored on every way
// out: normal return, a thrown error, a signal that ends us, process exit.
const RESTORE_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

export async function withRawTerminal<T>(enable: boolean, fn: () => Promise<T>): Promise<T> {
  if (!enable || !process.stdin.isTTY) return fn();
  const stdin = process.stdin;
  const restore = () => { if (stdin.isRaw) stdin.setRawMode(false); };
  const onSignal = (sig: NodeJS.Signals) => {
    restore();
    process.exit(128 + (sig === 'SIGHUP' ? 1 : 15));
  };
  stdin.setRawMode(true);
  process.on('exit', restore);
  for (const s of RESTORE_SIGNALS) process.on(s, onSignal);
  try {
    return await fn();
  } finally {
    restore();
    process.off('exit', restore);
    for (const s of RESTORE_SIGNALS) process.off(s, onSignal);
  }
}
