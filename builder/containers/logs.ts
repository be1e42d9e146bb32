// Container output as JSON lines, like Docker's json-file driver:
//   {"stream":"stdout","time":"2024-...Z","log":"hi\n"}
// One file keeps stdout and stderr in the order they came, so `logs` can
// replay both, each to its own stream.
import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';

export type LogStream = 'stdout' | 'stderr';

export interface LogRecord {
  stream: LogStream;
  time: string;
  log: string;
}

export class LogWriter {
  private readonly out: WriteStream;
  // a chunk may end inside a multi-byte character: decode per stream
  private readonly decoders: Record<LogStream, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };

  constructor(file: string) {
    this.out = createWriteStream(file, { flags: 'a', mode: 0o600 });
    // a full disk must not take the container down with it
    this.out.on('error', () => undefined);
  }

  write(stream: LogStream, chunk: Buffer): void {
    const log = this.decoders[stream].write(chunk);
    if (log) this.append(stream, log);
  }

  private append(stream: LogStream, log: string): void {
    const record: LogRecord = { stream, time: new Date().toISOString(), log };
    this.out.write(JSON.stringify(record) + '\n');
  }

  close(): Promise<void> {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.decoders[stream].end();
      if (rest) this.append(stream, rest);
    }
    return new Promise((resolve) => this.out.end(resolve));
  }
}

export interface ReadLogsOptions {
  /** keep reading as the file grows, until `stillRunning` says no */
  follow?: boolean;
  stillRunning?: () => Promise<boolean>;
  /** only the last N records */
  tail?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

function parseLines(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // a torn last line of a crashed writer: skip it
    }
  }
  return out;
}

/** Yields the log's records in order; with `follow`, waits for more while the container runs. */
export async function* readLogs(file: string, opts: ReadLogsOptions = {}): AsyncGenerator<LogRecord> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return; // nothing written yet
  }
  try {
    let position = 0;
    let pending = '';
    let first = true;
    const decoder = new StringDecoder('utf8');
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let readAny = false;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        pending += decoder.write(buf.subarray(0, bytesRead));
        readAny = true;
      }
      const cut = pending.lastIndexOf('\n');
      let records: LogRecord[] = [];
      if (cut >= 0) {
        records = parseLines(pending.slice(0, cut));
        pending = pending.slice(cut + 1);
      }
      if (first && opts.tail !== undefined) records = opts.tail > 0 ? records.slice(-opts.tail) : [];
      first = false;
      yield* records;
      if (!opts.follow || opts.signal?.aborted) return;
      // read once more after the container stopped: its last words may have come meanwhile
      if (!readAny && !(await (opts.stillRunning?.() ?? Promise.resolve(false)))) {
        const { bytesRead } = await fh.read(buf, 0, 1, position);
        if (bytesRead === 0) return;
        continue;
      }
      await sleep(opts.pollMs ?? 200);
    }
  } finally {
    await fh.close();
  }
}
