// `--progress=rawjson`: one JSON object per line, one per event, for tools.
//
// Record fields (names are stable; new optional fields may be added later):
//   time     ISO-8601 time of the record
//   type     'start' | 'cached' | 'done' | 'error' | 'canceled'   step state changes
//            'log'       output of a step
//            'status'    a builder task's sub-line (`writing image sha256:... done`)
//            'warning'   a lint/build warning (no vertex)
//            'end'       the last record of the build
//   vertex   { id, name } — id is the step number (`#N` of the plain format),
//            assigned in order of first appearance; absent on 'warning'/'end'
//   ms       'done': the step's duration in milliseconds
//   stream   'log': 'stdout' | 'stderr'
//   data     'log': the output chunk as UTF-8 text (a character split between
//            chunks is carried over to the next record); 'status': the sub-line
//   error    'error': the message
//   message  'warning': the text
//   ok       'end': whether the build succeeded
//   miss     'start': why the step was not served from the cache, when known
//            (`src/main.ts changed`, `build arg VERSION changed`, `no cache entry`)
//
// Example:
//   {"time":"2024-05-01T10:00:00.000Z","type":"start","vertex":{"id":2,"name":"[build 2/4] RUN make"}}
//   {"time":"2024-05-01T10:00:00.120Z","type":"log","vertex":{"id":2,"name":"[build 2/4] RUN make"},"stream":"stdout","data":"cc main.c\n"}
//   {"time":"2024-05-01T10:00:01.300Z","type":"done","vertex":{"id":2,"name":"[build 2/4] RUN make"},"ms":1180}
import { StringDecoder } from 'node:string_decoder';
import { StepProgressWriter } from './base.js';
import type { OutputStream, Step } from './step.js';
import type { ProgressOptions, ProgressStream } from './types.js';

export type RawJsonRecordType = 'start' | 'cached' | 'done' | 'error' | 'canceled' | 'log' | 'status' | 'warning' | 'end';

export interface RawJsonRecord {
  time: string;
  type: RawJsonRecordType;
  vertex?: { id: number; name: string };
  ms?: number;
  stream?: OutputStream;
  data?: string;
  error?: string;
  message?: string;
  ok?: boolean;
  miss?: string;
}

export class RawJsonProgressWriter extends StepProgressWriter {
  private readonly decoders = new Map<Step, Map<OutputStream, StringDecoder>>();

  constructor(out: ProgressStream, opts: ProgressOptions = {}) {
    // Records carry the raw chunks; no line needs to be remembered.
    super(out, opts, 0);
  }

  protected stepStarted(step: Step): void {
    this.emit(step.miss !== undefined ? { type: 'start', vertex: vertexOf(step), miss: step.miss } : { type: 'start', vertex: vertexOf(step) });
  }

  protected override stepChunk(step: Step, stream: OutputStream, data: Buffer | string): void {
    const text = typeof data === 'string' ? data : this.decoder(step, stream).write(data);
    if (text !== '') this.emit({ type: 'log', vertex: vertexOf(step), stream, data: text });
  }

  protected stepOutput(): void {}

  protected stepStatus(step: Step, text: string): void {
    this.emit({ type: 'status', vertex: vertexOf(step), data: text });
  }

  protected stepEnded(step: Step): void {
    // Bytes of an unfinished character at the very end are still output.
    for (const [stream, decoder] of this.decoders.get(step) ?? []) {
      const rest = decoder.end();
      if (rest !== '') this.emit({ type: 'log', vertex: vertexOf(step), stream, data: rest });
    }
    this.decoders.delete(step);
    const record: Omit<RawJsonRecord, 'time'> = { type: step.state as RawJsonRecordType, vertex: vertexOf(step) };
    if (step.state === 'done') record.ms = step.elapsedMs(step.endedAt ?? step.startedAt);
    if (step.state === 'error') record.error = step.error;
    this.emit(record);
  }

  protected override warned(message: string): void {
    this.emit({ type: 'warning', message });
  }

  protected finalText(ok: boolean): string {
    return this.line({ type: 'end', ok });
  }

  private decoder(step: Step, stream: OutputStream): StringDecoder {
    let byStream = this.decoders.get(step);
    if (!byStream) this.decoders.set(step, (byStream = new Map()));
    let decoder = byStream.get(stream);
    if (!decoder) byStream.set(stream, (decoder = new StringDecoder('utf8')));
    return decoder;
  }

  private emit(record: Omit<RawJsonRecord, 'time'>): void {
    this.write(this.line(record));
  }

  private line(record: Omit<RawJsonRecord, 'time'>): string {
    // `time` first so that records read well in a log file.
    return JSON.stringify({ time: new Date(this.now()).toISOString(), ...record }) + '\n';
  }
}

function vertexOf(step: Step): { id: number; name: string } {
  return { id: step.index, name: step.name };
}
