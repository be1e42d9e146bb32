// Entry point of the progress output: picks the writer for a --progress mode.
import { ProgressError } from './errors.js';
import { PlainProgressWriter } from './plain.js';
import { QuietProgressWriter } from './quiet.js';
import { RawJsonProgressWriter } from './rawjson.js';
import { TtyProgressWriter } from './tty.js';
import { resolveProgressMode } from './mode.js';
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

export { resolveProgressMode };

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
