// What every step-based writer shares: turning solver events and builder
// tasks into numbered Steps (in order of first appearance), splitting their
// output into lines, and the close/flush protocol. Subclasses only decide
// how each change is shown.
import type { SolveEvent } from '../solver/solver.js';
import { progressEventOf, type StepEvent } from './events.js';
import type { ProgressEvent } from './types.js';
import { formatDuration, errorMessage } from './format.js';
import { Step, type OutputLine, type OutputStream } from './step.js';
import type { CloseSummary, ProgressOptions, ProgressStream, ProgressTask, ProgressWriter } from './types.js';

export abstract class StepProgressWriter implements ProgressWriter {
  protected readonly steps: Step[] = [];
  protected readonly warnings: string[] = [];
  protected readonly now: () => number;
  protected readonly maxLogLines: number | undefined;
  private readonly byOwner = new Map<object, Step>();
  // Owners of the steps known by a ProgressEvent vertex id.
  private readonly owners = new Map<string, object>();
  private closing: Promise<void> | undefined;

  constructor(
    protected readonly out: ProgressStream,
    opts: ProgressOptions,
    // How many output lines per step to remember for later display.
    private readonly keepLines: number,
  ) {
    this.now = opts.now ?? Date.now;
    this.maxLogLines = opts.maxLogLines !== undefined && opts.maxLogLines > 0 ? Math.floor(opts.maxLogLines) : undefined;
  }

  // Hooks for the subclasses. Each is called after the Step was updated.
  protected abstract stepStarted(step: Step): void;
  protected abstract stepOutput(step: Step, lines: readonly OutputLine[]): void;
  protected abstract stepStatus(step: Step, text: string, id?: string): void;
  protected abstract stepEnded(step: Step): void;
  // Returns the text that ends the output (final view, error output, warnings).
  protected abstract finalText(ok: boolean): string;
  protected stepChunk(_step: Step, _stream: OutputStream, _data: Buffer | string): void {}
  protected warned(_message: string): void {}
  protected stopped(): void {}

  readonly onEvent = (e: SolveEvent): void => {
    if (this.closing) return;
    this.apply(e.vertex, progressEventOf(e, { id: '', name: e.vertex.name }));
  };

  // Events of a build run elsewhere (build() in this process, or a server):
  // shown exactly as if the build had called onEvent/task/warn here.
  readonly onProgress = (e: ProgressEvent): void => {
    if (this.closing) return;
    if (e.type === 'warning') {
      this.warn(e.message);
      return;
    }
    let owner = this.owners.get(e.vertex.id);
    if (!owner) this.owners.set(e.vertex.id, owner = {});
    this.apply(owner, e);
  };

  // One event of the step that `owner` stands for (created on first sight).
  private apply(owner: object, e: StepEvent): void {
    const step = this.stepFor(owner, e.vertex.name);
    switch (e.type) {
      case 'start':
        if (e.miss !== undefined) step.miss = e.miss;
        if (!step.ended) this.stepStarted(step);
        return;
      case 'log':
        this.output(step, e.stream, e.data);
        return;
      case 'status':
        if (!step.ended) this.status(step, e.data, e.id);
        return;
      case 'cached':
        this.end(step, 'cached');
        return;
      case 'done':
        this.end(step, 'done', e.ms !== undefined ? { durationMs: e.ms } : {});
        return;
      case 'error':
        this.end(step, 'error', { error: e.error });
        return;
      case 'canceled':
        this.end(step, 'canceled');
        return;
    }
  }

  task(name: string): ProgressTask {
    const owner = {};
    const step = this.stepFor(owner, name);
    this.stepStarted(step);
    const live = () => !step.ended && !this.closing;
    return {
      log: (line, id) => {
        if (live()) this.status(step, line, id);
      },
      status: (text) => {
        const started = this.now();
        return {
          done: () => {
            if (!live()) return;
            const ms = this.now() - started;
            // Like BuildKit, an instant status shows no time, just `done`.
            this.status(step, ms > 10 ? `${text} ${formatDuration(ms)} done` : `${text} done`);
          },
        };
      },
      done: () => {
        if (live()) this.end(step, 'done');
      },
      fail: (err) => {
        if (live()) this.end(step, 'error', { error: errorMessage(err) });
      },
    };
  }

  info(name: string, message?: string): void {
    const t = this.task(name);
    if (message !== undefined) t.log(message);
    t.done();
  }

  warn(message: string): void {
    if (this.closing) return;
    this.warnings.push(message);
    this.warned(message);
  }

  close(summary?: CloseSummary): Promise<void> {
    if (!this.closing) this.closing = this.finish(summary);
    return this.closing;
  }

  protected get failedSteps(): Step[] {
    return this.steps.filter((s) => s.state === 'error');
  }

  protected write(text: string): void {
    if (text !== '') this.out.write(text);
  }

  private async finish(summary: CloseSummary | undefined): Promise<void> {
    const ok = summary?.ok ?? this.failedSteps.length === 0;
    // Anything still open when the build ends did not complete: on failure it
    // was interrupted; on success it is a task the caller forgot to close.
    for (const step of this.steps) {
      if (!step.ended) this.end(step, ok ? 'done' : 'canceled');
    }
    this.stopped();
    this.write(this.finalText(ok));
    await new Promise<void>((resolve) => {
      this.out.write('', () => resolve());
    });
  }

  private stepFor(owner: object, name: string): Step {
    let step = this.byOwner.get(owner);
    if (!step) {
      step = new Step(this.steps.length + 1, name, this.now(), this.keepLines);
      this.byOwner.set(owner, step);
      this.steps.push(step);
    }
    return step;
  }

  private output(step: Step, stream: OutputStream, data: Buffer | string): void {
    this.stepChunk(step, stream, data);
    const lines = step.write(stream, data, this.now());
    if (lines.length > 0) this.stepOutput(step, lines);
  }

  private status(step: Step, text: string, id?: string): void {
    step.setStatus(text, id);
    this.stepStatus(step, text, id);
  }

  private end(step: Step, state: 'cached' | 'done' | 'error' | 'canceled', extra: { durationMs?: number; error?: string } = {}): void {
    if (step.ended) return;
    const now = this.now();
    const rest = step.flush(now);
    if (rest.length > 0) this.stepOutput(step, rest);
    step.finish(state, now, extra);
    this.stepEnded(step);
  }
}
