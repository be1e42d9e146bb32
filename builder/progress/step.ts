// One line of the progress output's model: a solver vertex or a builder task,
// numbered in order of first appearance (`#5`), with its state, timing and
// the output it produced.
import { LineSplitter } from './line-splitter.js';

export type StepState = 'running' | 'cached' | 'done' | 'error' | 'canceled';
export type OutputStream = 'stdout' | 'stderr';

export interface OutputLine {
  stream: OutputStream;
  text: string;
  // Milliseconds since the step started: plain prints it as `#5 0.123 text`.
  offsetMs: number;
}

export class Step {
  state: StepState = 'running';
  readonly startedAt: number;
  endedAt?: number;
  // The duration the solver measured, when it gave one (`done` events).
  durationMs?: number;
  error?: string;
  // Why the solver ran the step instead of reusing the cache (`src/main.ts changed`).
  miss?: string;
  // Output kept for later display (tty view, error summaries); capped by `keepLines`.
  readonly kept: OutputLine[] = [];
  keptDropped = 0;
  // Every complete output line seen, kept or not; plain uses it for clipping.
  lineCount = 0;
  // Task sub-lines (`writing image sha256:... done`), always kept: they are few.
  readonly statuses: string[] = [];
  // Where the status with a given id sits in `statuses`.
  private readonly statusAt = new Map<string, number>();
  private readonly splitters = new Map<OutputStream, LineSplitter>();

  constructor(
    readonly index: number,
    readonly name: string,
    now: number,
    private readonly keepLines: number,
  ) {
    this.startedAt = now;
  }

  // Adds a status line, or updates the one with the same id.
  setStatus(text: string, id?: string): void {
    const at = id === undefined ? undefined : this.statusAt.get(id);
    if (at !== undefined) {
      this.statuses[at] = text;
      return;
    }
    if (id !== undefined) this.statusAt.set(id, this.statuses.length);
    this.statuses.push(text);
  }

  get ended(): boolean {
    return this.state !== 'running';
  }

  // Elapsed time as shown by the timers: the solver's measure once done.
  elapsedMs(now: number): number {
    if (this.durationMs !== undefined) return this.durationMs;
    return Math.max(0, (this.endedAt ?? now) - this.startedAt);
  }

  // Feeds a chunk of output; returns the lines it completed.
  write(stream: OutputStream, data: Buffer | string, now: number): OutputLine[] {
    let splitter = this.splitters.get(stream);
    if (!splitter) {
      splitter = new LineSplitter();
      this.splitters.set(stream, splitter);
    }
    return splitter.push(data).map((text) => this.record(stream, text, now));
  }

  // The unfinished lines of every stream, as whole lines; called when the step ends.
  flush(now: number): OutputLine[] {
    const out: OutputLine[] = [];
    for (const [stream, splitter] of this.splitters) {
      const rest = splitter.flush();
      if (rest !== undefined) out.push(this.record(stream, rest, now));
    }
    return out;
  }

  finish(state: Exclude<StepState, 'running'>, now: number, extra: { durationMs?: number; error?: string } = {}): void {
    this.state = state;
    this.endedAt = now;
    if (extra.durationMs !== undefined) this.durationMs = extra.durationMs;
    if (extra.error !== undefined) this.error = extra.error;
  }

  private record(stream: OutputStream, text: string, now: number): OutputLine {
    const line = { stream, text, offsetMs: Math.max(0, now - this.startedAt) };
    this.lineCount++;
    this.kept.push(line);
    if (this.kept.length > this.keepLines) {
      this.kept.shift();
      this.keptDropped++;
    }
    return line;
  }
}
