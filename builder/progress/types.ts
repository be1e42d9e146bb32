// The public shape of build progress output. The CLI creates one writer per
// build (see createProgress in index.ts), hands `onEvent` to the solver and
// uses `task`/`info` for builder-level work that is not a solver vertex
// (loading the Dockerfile, exporting the image).
import type { SolveEvent } from '../solver/solver.js';
import type { OutputStream } from './step.js';

export type ProgressMode = 'auto' | 'plain' | 'tty' | 'rawjson' | 'quiet';

export interface ProgressOptions {
  // Colours in the tty view. Unset: FORCE_COLOR, then NO_COLOR, then the terminal decide.
  color?: boolean;
  // Per-step limit on output lines. Unset means no clipping at all.
  maxLogLines?: number;
  // Clock in milliseconds; tests pass a fake one. Defaults to Date.now.
  now?: () => number;
  // Environment consulted for CI / NO_COLOR / FORCE_COLOR; defaults to process.env.
  env?: NodeJS.ProcessEnv;
}

export interface CloseSummary {
  ok: boolean;
}

// A builder-level step shown like a solver vertex (`#6 exporting to image`).
export interface ProgressTask {
  // A sub-line such as `writing image sha256:... done`; shown as is. Lines
  // with the same id are one status being updated (a download's bytes):
  // the tty view shows the latest, plain and rawjson every update.
  log(line: string, id?: string): void;
  // A timed sub-line: printed with its duration once `done()` is called
  // (`#6 exporting layers 0.3s done`), like BuildKit's statuses.
  status(text: string): { done(): void };
  done(): void;
  fail(err: unknown): void;
}

export interface ProgressWriter {
  // Shows a build's ProgressEvent (see events.ts); optional for writers that only run in-process.
  readonly onProgress?: (e: ProgressEvent) => void;
  // Bound to the writer, so `{ onEvent: progress.onEvent }` can go straight into SolveOptions.
  readonly onEvent: (e: SolveEvent) => void;
  task(name: string): ProgressTask;
  // A step that completes at once, with an optional sub-line.
  info(name: string, message?: string): void;
  // A lint or build warning; listed at the end (as `docker buildx build` does).
  warn(message: string): void;
  // Ends the output: finishes the live view, prints error output and
  // warnings, and resolves once everything has been handed to the stream.
  // Safe to call more than once.
  close(summary?: CloseSummary): Promise<void>;
}

// The subset of a stream the writers use, so tests can pass a fake.
export interface ProgressStream {
  write(chunk: string, cb?: (err?: Error | null) => void): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
  getColorDepth?(env?: object): number;
}

// Progress as data (see events.ts).
/** A step as the user sees it: a solver vertex or a builder task (`exporting to image`). */
export interface ProgressVertex {
  /** Unique within one build; stable for all events of the step. */
  id: string;
  name: string;
}

export type ProgressEvent =
  // `miss`: why the step is not served from the cache, when known.
  | { type: 'start'; vertex: ProgressVertex; miss?: string }
  | { type: 'cached'; vertex: ProgressVertex }
  | { type: 'done'; vertex: ProgressVertex; ms?: number }
  | { type: 'error'; vertex: ProgressVertex; error: string }
  | { type: 'canceled'; vertex: ProgressVertex }
  | { type: 'log'; vertex: ProgressVertex; stream: OutputStream; data: Buffer | string }
  // A builder task's sub-line, e.g. `writing image sha256:... done`.
  // `id`: the status is one being updated (a layer's download); the latest
  // event with an id replaces the earlier ones in live views.
  | { type: 'status'; vertex: ProgressVertex; data: string; id?: string }
  | { type: 'warning'; message: string };
