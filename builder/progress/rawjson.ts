// `--progress=rawjson`: one JSON object per line, each a BuildKit
// `client.SolveStatus` as buildx prints it, so tools that read buildx's
// stream read ours: `vertexes`, `statuses`, `logs`, `warnings`, with
// buildx's field names, RFC 3339 times and base64 bytes. The full schema,
// and what tsbuild adds (`cacheMiss`), is in docs/progress-rawjson.md.
import { createHash } from '../../runner-native/native-crypto.js';
import { StepProgressWriter } from './base.js';
import type { OutputStream, Step } from './step.js';
import type { ProgressOptions, ProgressStream } from './types.js';

export interface RawJsonVertex {
  digest: string;
  inputs?: string[];
  name?: string;
  started?: string;
  completed?: string;
  cached?: boolean;
  error?: string;
  /** tsbuild: why the step was not served from the cache (`src/main.ts changed`). */
  cacheMiss?: string;
}

export interface RawJsonStatus {
  id: string;
  vertex?: string;
  name?: string;
  total?: number;
  current: number;
  timestamp?: string;
  started?: string;
  completed?: string;
}

export interface RawJsonLog {
  vertex?: string;
  /** 1 stdout, 2 stderr. */
  stream?: number;
  /** The output bytes, base64. */
  data: string;
  timestamp: string;
}

export interface RawJsonWarning {
  vertex?: string;
  level?: number;
  /** The message, base64. */
  short?: string;
  detail?: string[];
  url?: string;
}

/** One line of the stream: a SolveStatus with the fields that changed. */
export interface RawJsonRecord {
  vertexes?: RawJsonVertex[];
  statuses?: RawJsonStatus[];
  logs?: RawJsonLog[];
  warnings?: RawJsonWarning[];
}

const STREAMS: Record<OutputStream, number> = { stdout: 1, stderr: 2 };

export class RawJsonProgressWriter extends StepProgressWriter {
  constructor(out: ProgressStream, opts: ProgressOptions = {}) {
    // Records carry the raw chunks; no line needs to be remembered.
    super(out, opts, 0);
  }

  protected stepStarted(step: Step): void {
    this.emit({ vertexes: [{ ...this.vertexOf(step), ...(step.miss !== undefined ? { cacheMiss: step.miss } : {}) }] });
  }

  protected override stepChunk(step: Step, stream: OutputStream, data: Buffer | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length === 0) return;
    this.emit({ logs: [{ vertex: digestOf(step), stream: STREAMS[stream], data: bytes.toString('base64'), timestamp: this.time() }] });
  }

  protected stepOutput(): void {}

  // A status with an id is one being updated (a layer's download, its
  // unpack): buildx's status id, completed once its text says `done`.
  protected stepStatus(step: Step, text: string, id?: string): void {
    const now = this.time();
    const completed = id === undefined || text.endsWith(' done') ? { completed: now } : {};
    this.emit({ statuses: [{ id: id ?? text, vertex: digestOf(step), name: text, current: 0, timestamp: now, started: now, ...completed }] });
  }

  protected stepEnded(step: Step): void {
    const v: RawJsonVertex = { ...this.vertexOf(step), completed: this.time() };
    if (step.state === 'cached') v.cached = true;
    if (step.state === 'error') v.error = step.error ?? 'failed';
    // BuildKit reports a step stopped by the build's end as canceled.
    if (step.state === 'canceled') v.error = 'context canceled';
    this.emit({ vertexes: [v] });
  }

  protected override warned(message: string): void {
    this.emit({ warnings: [{ level: 1, short: Buffer.from(message).toString('base64') }] });
  }

  // buildx's stream simply ends: no closing record.
  protected finalText(): string {
    return '';
  }

  private vertexOf(step: Step): RawJsonVertex {
    return { digest: digestOf(step), name: step.name, started: new Date(step.startedAt).toISOString() };
  }

  private time(): string {
    return new Date(this.now()).toISOString();
  }

  private emit(record: RawJsonRecord): void {
    this.write(JSON.stringify(record) + '\n');
  }
}

// BuildKit names a vertex by its op's digest; ours is stable for the step
// within the build (its number and name), which is what readers key on.
function digestOf(step: Step): string {
  return `sha256:${createHash('sha256').update(`${step.index}\0${step.name}`).digest('hex')}`;
}
