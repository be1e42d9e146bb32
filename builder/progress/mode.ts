// Which writer a --progress mode means here. Apart from index.ts, which
// loads every writer (the live view with its colours among them): a
// caller that needs one writer loads that one alone.
import type { ProgressMode, ProgressStream } from './types.js';

// `auto` means the live view on an interactive terminal, and the plain log
// in CI (whose log viewers show cursor movement as garbage) or on a dumb
// terminal or a pipe.
export function resolveProgressMode(mode: ProgressMode, out: ProgressStream, env: NodeJS.ProcessEnv = process.env): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  return out.isTTY && !ci && env.TERM !== 'dumb' ? 'tty' : 'plain';
}
