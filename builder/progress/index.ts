// Entry point of the progress output: picks the writer for a --progress mode.
import { ProgressError } from './errors.js';
import { PlainProgressWriter } from './plain.js';
import { QuietProgressWriter } from './quiet.js';
import { RawJsonProgressWriter } from './rawjson.js';
import { TtyProgressWriter } from './tty.js';
import type { ProgressMode, ProgressOptions, ProgressStream, ProgressWriter } from './types.js';

export type { CloseSummary, ProgressMode, ProgressOptions, ProgressStream, ProgressTask, ProgressWriter } from './types.js';
export type { RawJsonRecord } from './rawjson.js';
export { ProgressError } from './errors.js';
export { ProgressEmitter, type ProgressEvent, type ProgressVertex } from './events.js';
export { PlainProgressWriter, QuietProgressWriter, RawJsonProgressWriter, TtyProgressWriter };

const MODES: readonly ProgressMode[] = ['auto', 'plain', 'tty', 'rawjson', 'quiet'];

// Validates a --progress value.
export function parseProgressMode(value: string): ProgressMode {
  if ((MODES as readonly string[]).includes(value)) return value as ProgressMode;
  throw new ProgressError('INVALID_PROGRESS_MODE', `invalid --progress value "${value}" (one of ${MODES.join(', ')})`);
}

// `auto` means the live view on an interactive terminal, and the plain log
// in CI (whose log viewers show cursor movement as garbage) or on a dumb
// terminal or a pipe.
export function resolveProgressMode(mode: ProgressMode, out: ProgressStream, env: NodeJS.ProcessEnv = process.env): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  return out.isTTY && !ci && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

export function createProgress(mode: ProgressMode, out: ProgressStream = process.stderr, opts: ProgressOptions = {}): ProgressWriter {
  switch (resolveProgressMode(mode, out, opts.env)) {
    case 'plain':
      return new PlainProgressWriter(out, opts);
    case 'tty':
      return new TtyProgressWriter(out, opts);
    case 'rawjson':
      return new RawJsonProgressWriter(out, opts);
    case 'quiet':
      return new QuietProgressWriter(out, opts);
  }
}
