// `-q`: nothing on screen while building (the CLI prints the image id), but a
// failure must not be silent: the failing step's block is printed in the
// plain format, with all of its output, the moment it fails.
import { StepProgressWriter } from './base.js';
import { plainStepBlock } from './format.js';
import type { Step } from './step.js';
import type { ProgressOptions, ProgressStream } from './types.js';

export class QuietProgressWriter extends StepProgressWriter {
  constructor(out: ProgressStream, opts: ProgressOptions = {}) {
    // Every line is kept (unless capped) because any step may be the one that fails.
    super(out, opts, opts.maxLogLines && opts.maxLogLines > 0 ? opts.maxLogLines : Infinity);
  }

  protected stepStarted(): void {}
  protected stepOutput(): void {}
  protected stepStatus(): void {}

  protected stepEnded(step: Step): void {
    if (step.state === 'error') this.write(plainStepBlock(step));
  }

  protected finalText(): string {
    return '';
  }
}
