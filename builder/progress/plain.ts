// BuildKit's plain progress format, for CI logs and pipes: every step is a
// block headed `#N name`, and every line of it carries `#N`, so the output
// of parallel steps stays attributable.
//
//   #1 [internal] load build definition from Dockerfile
//   #1 DONE 0.0s
//
//   #2 [build 2/4] RUN make
//   #2 0.123 cc -o app main.c
//   #2 ...                      <- the block is interrupted, to be continued
//
//   #3 [test 2/2] RUN make test
//   #3 0.200 ok 1 - parses
//
// Like BuildKit, one block is open at a time and the output of other steps
// is held back meanwhile, then printed as a block of its own: when the open
// step ends, when a held step ends, or when held output has waited
// HOLD_MS. Lines keep the time they were produced, so holding never changes
// what they say; it only avoids a header for every single line when two
// steps print at once.
import { StepProgressWriter } from './base.js';
import { errorBox, formatOffset, plainEndLine, warningSummary } from './format.js';
import type { OutputLine, Step } from './step.js';
import type { ProgressOptions, ProgressStream } from './types.js';

// The error summary at the end repeats only the tail: the whole output was
// already printed above it.
const ERROR_TAIL_LINES = 10;
// Longest time a line of a step other than the open one is held back.
const HOLD_MS = 2000;
const CHECK_INTERVAL_MS = 250;

interface Held {
  since: number;
  lines: string[];
}

export class PlainProgressWriter extends StepProgressWriter {
  // The step whose block is open.
  private current: Step | undefined;
  // `#N` in order of first appearance in the output, as BuildKit numbers them.
  private readonly numbers = new Map<Step, number>();
  private readonly held = new Map<Step, Held>();
  private readonly printedLines = new Map<Step, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(out: ProgressStream, opts: ProgressOptions = {}) {
    super(out, opts, ERROR_TAIL_LINES);
    // Held output must come out even when no further event arrives.
    this.timer = setInterval(() => this.rebalance(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  protected stepStarted(step: Step): void {
    if (!this.current) this.open(step);
    // `#5 cache miss: src/main.ts changed`, right under the step's header.
    if (step.miss !== undefined) this.emit(step, [`cache miss: ${step.miss}`]);
  }

  protected stepOutput(step: Step, lines: readonly OutputLine[]): void {
    const out: string[] = [];
    for (const line of lines) {
      const printed = this.printedLines.get(step) ?? 0;
      this.printedLines.set(step, printed + 1);
      if (this.maxLogLines !== undefined && printed >= this.maxLogLines) {
        if (printed === this.maxLogLines) out.push(`[output clipped, log limit ${this.maxLogLines} lines reached]`);
        continue;
      }
      out.push(`${formatOffset(line.offsetMs)} ${line.text}`);
    }
    this.emit(step, out);
  }

  protected stepStatus(step: Step, text: string): void {
    this.emit(step, [text]);
  }

  protected stepEnded(step: Step): void {
    // A finished step is printed at once (with what was held of it), so an
    // ERROR line never waits behind another step's output.
    this.open(step);
    this.write(plainEndLine(step, this.number(step)));
    this.current = undefined;
    this.rebalance();
  }

  protected override stopped(): void {
    clearInterval(this.timer);
  }

  protected finalText(_ok: boolean): string {
    let text = '';
    for (const step of this.failedSteps) {
      if (step.kept.length === 0) continue;
      text += '\n' + errorBox(step, step.kept, step.keptDropped);
    }
    const warnings = warningSummary(this.warnings);
    if (warnings !== '') text += '\n' + warnings;
    return text;
  }

  private emit(step: Step, lines: string[]): void {
    if (lines.length === 0) return;
    if (!this.current) this.open(step);
    if (this.current === step) {
      this.writeLines(step, lines);
    } else {
      const held = this.held.get(step);
      if (held) held.lines.push(...lines);
      else this.held.set(step, { since: this.now(), lines: [...lines] });
    }
    this.rebalance();
  }

  // Decides whether another step's block should take over.
  private rebalance(): void {
    const waiting = this.oldestHeld();
    if (!this.current) {
      // Nothing open: held output first, else a running step not shown yet
      // (a long step without output should still show that it started).
      const next = waiting ?? this.steps.find((s) => !s.ended && !this.numbers.has(s));
      if (next) this.open(next);
      return;
    }
    if (waiting && this.now() - this.held.get(waiting)!.since >= HOLD_MS) this.open(waiting);
  }

  private oldestHeld(): Step | undefined {
    let oldest: Step | undefined;
    for (const [step, held] of this.held) {
      if (!oldest || held.since < this.held.get(oldest)!.since) oldest = step;
    }
    return oldest;
  }

  // Makes `step` the open block: marks the interrupted block with `#N ...`,
  // prints the header, then whatever was held of the step.
  private open(step: Step): void {
    if (this.current === step) return;
    let text = '';
    if (this.current && !this.current.ended) text += `#${this.number(this.current)} ...\n`;
    if (this.numbers.size > 0) text += '\n';
    text += `#${this.number(step)} ${step.name}\n`;
    this.current = step;
    this.write(text);
    const held = this.held.get(step);
    if (held) {
      this.held.delete(step);
      this.writeLines(step, held.lines);
    }
  }

  private writeLines(step: Step, lines: readonly string[]): void {
    const n = `#${this.number(step)} `;
    this.write(lines.map((l) => n + l + '\n').join(''));
  }

  private number(step: Step): number {
    let n = this.numbers.get(step);
    if (n === undefined) {
      n = this.numbers.size + 1;
      this.numbers.set(step, n);
    }
    return n;
  }
}
