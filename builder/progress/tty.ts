// The live terminal view: the whole frame (see tty-render.ts) is redrawn in
// place with ANSI cursor-up and erase, at most ten times a second, however
// fast events arrive. The last frame is printed in full, then the complete
// output of a failed step, then the warnings.
import { Chalk, type ChalkInstance } from 'chalk';
import { StepProgressWriter } from './base.js';
import { colorLevel } from './color.js';
import { errorBox, warningSummary } from './format.js';
import type { Step } from './step.js';
import { renderFrame } from './tty-render.js';
import type { ProgressOptions, ProgressStream } from './types.js';

const REDRAW_INTERVAL_MS = 100;
const TAIL_LINES = 6;

const ESC = '\x1b[';
const cursorUp = (n: number) => (n > 0 ? `${ESC}${n}A` : '');
const ERASE_LINE = `${ESC}2K`;
// Erases from the cursor to the end of the screen: the lines a taller
// previous frame left below the new one.
const ERASE_DOWN = `${ESC}J`;

export class TtyProgressWriter extends StepProgressWriter {
  private readonly chalk: ChalkInstance;
  private readonly startedAt: number;
  private readonly timer: NodeJS.Timeout;
  // Lines of the frame currently on screen, which the next draw moves up over.
  private drawnHeight = 0;
  // Nothing is drawn before the first step: a build that fails while reading
  // its Dockerfile shows just the error, not an empty view.
  private dirty = false;

  constructor(out: ProgressStream, opts: ProgressOptions = {}) {
    // All output is kept: a failed step's full output is shown after the view.
    super(out, opts, opts.maxLogLines && opts.maxLogLines > 0 ? opts.maxLogLines : Infinity);
    this.chalk = new Chalk({ level: colorLevel(out, opts.env ?? process.env, opts.color) });
    this.startedAt = this.now();
    this.timer = setInterval(() => this.tick(), REDRAW_INTERVAL_MS);
    // The view must never be what keeps the process alive.
    this.timer.unref();
  }

  protected stepStarted(): void {
    this.dirty = true;
  }
  protected stepOutput(): void {
    this.dirty = true;
  }
  protected stepStatus(): void {
    this.dirty = true;
  }
  protected stepEnded(): void {
    this.dirty = true;
  }

  protected override stopped(): void {
    clearInterval(this.timer);
  }

  protected finalText(ok: boolean): string {
    let text = this.steps.length === 0 && this.drawnHeight === 0 ? '' : this.frameText(true, ok);
    for (const step of this.failedSteps) text += this.failureOutput(step);
    const warnings = warningSummary(this.warnings);
    if (warnings !== '') text += colorLines(warnings, this.chalk.yellow);
    return text;
  }

  // Timers of running steps change every tenth of a second, so a frame with
  // a running step is always redrawn; an idle view only when something happened.
  private tick(): void {
    if (!this.dirty && !this.steps.some((s) => !s.ended)) return;
    this.dirty = false;
    this.write(this.frameText(false, true));
  }

  private frameText(final: boolean, ok: boolean): string {
    const lines = renderFrame({
      steps: this.steps,
      now: this.now(),
      startedAt: this.startedAt,
      width: this.out.columns && this.out.columns > 0 ? this.out.columns : 80,
      height: this.out.rows && this.out.rows > 0 ? this.out.rows : 24,
      final,
      ok,
      tailLines: TAIL_LINES,
      chalk: this.chalk,
    });
    // One write per frame: a frame written in pieces flickers.
    const text = '\r' + cursorUp(this.drawnHeight) + lines.map((l) => ERASE_LINE + l + '\n').join('') + ERASE_DOWN;
    this.drawnHeight = lines.length;
    return text;
  }

  private failureOutput(step: Step): string {
    if (step.kept.length === 0 && step.keptDropped === 0) return '';
    return colorLines(errorBox(step, step.kept, step.keptDropped), this.chalk.red);
  }
}

// Colours each line on its own, so no colour code is left dangling after the final newline.
function colorLines(text: string, style: (s: string) => string): string {
  return text.replace(/[^\n]+/g, (line) => style(line));
}
