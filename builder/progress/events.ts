// Progress as data: what a build reports while it runs, shaped like the
// records of `--progress=rawjson` (vertexes, statuses, logs, warnings).
// The build emits these through `BuildIO.onEvent` and knows nothing of
// screens; the CLI hands them to a writer (plain, tty, rawjson, quiet) with
// `writer.onProgress`, a build server sends them to its client.
import type { SolveEvent } from '../solver/solver.js';
import { formatDuration, errorMessage } from './format.js';
import type { ProgressEvent, ProgressTask, ProgressVertex, ProgressWriter } from './types.js';

export type { ProgressEvent, ProgressVertex } from './types.js';

/** A solver event as a ProgressEvent of `vertex`. */
export function progressEventOf(e: SolveEvent, vertex: ProgressVertex): StepEvent {
  switch (e.type) {
    case 'start': return e.miss !== undefined ? { type: 'start', vertex, miss: e.miss } : { type: 'start', vertex };
    case 'log': return { type: 'log', vertex, stream: e.stream, data: e.data };
    case 'status': return e.id !== undefined ? { type: 'status', vertex, data: e.text, id: e.id } : { type: 'status', vertex, data: e.text };
    case 'cached': return { type: 'cached', vertex };
    case 'done': return { type: 'done', vertex, ms: e.ms };
    case 'error': return { type: 'error', vertex, error: errorMessage(e.error) };
    case 'canceled': return { type: 'canceled', vertex };
  }
}

/** Every ProgressEvent but a warning: the ones about one step. */
export type StepEvent = Exclude<ProgressEvent, { type: 'warning' }>;

/**
 * The ProgressWriter a build uses internally: every call becomes a
 * ProgressEvent for `emit`. It never writes anywhere itself.
 */
export class ProgressEmitter implements ProgressWriter {
  private readonly ids = new WeakMap<object, string>();
  private next = 1;

  constructor(private readonly emit: (e: ProgressEvent) => void, private readonly now: () => number = Date.now) {}

  private vertexOf(owner: object, name: string): ProgressVertex {
    let id = this.ids.get(owner);
    if (id === undefined) {
      id = String(this.next++);
      this.ids.set(owner, id);
    }
    return { id, name };
  }

  readonly onEvent = (e: SolveEvent): void => {
    this.emit(progressEventOf(e, this.vertexOf(e.vertex, e.vertex.name)));
  };

  task(name: string): ProgressTask {
    const vertex = this.vertexOf({}, name);
    let ended = false;
    this.emit({ type: 'start', vertex });
    const status = (data: string, id?: string) => {
      if (!ended) this.emit(id !== undefined ? { type: 'status', vertex, data, id } : { type: 'status', vertex, data });
    };
    return {
      log: status,
      status: (text) => {
        const started = this.now();
        return {
          done: () => {
            const ms = this.now() - started;
            // Like BuildKit, an instant status shows no time, just `done`.
            status(ms > 10 ? `${text} ${formatDuration(ms)} done` : `${text} done`);
          },
        };
      },
      done: () => {
        if (ended) return;
        ended = true;
        this.emit({ type: 'done', vertex });
      },
      fail: (err) => {
        if (ended) return;
        ended = true;
        this.emit({ type: 'error', vertex, error: errorMessage(err) });
      },
    };
  }

  info(name: string, message?: string): void {
    const t = this.task(name);
    if (message !== undefined) t.log(message);
    t.done();
  }

  warn(message: string): void {
    this.emit({ type: 'warning', message });
  }

  // The caller of the build ends the output, not the build.
  async close(): Promise<void> {}
}
