// A build's progress event as a JSON record and back: what a server sends
// its client, and what the local memo of build answers keeps on disk.
// Step output bytes travel as base64, so no character is split.
import type { ProgressEvent } from '../progress/events.js';

export function wireEvent(e: ProgressEvent): Record<string, unknown> {
  if (e.type === 'log' && Buffer.isBuffer(e.data)) return { ...e, data: e.data.toString('base64'), encoding: 'base64' };
  return e as unknown as Record<string, unknown>;
}

export function eventOf(record: Record<string, unknown>): ProgressEvent {
  if (record.encoding === 'base64' && typeof record.data === 'string') {
    const { encoding: _, ...rest } = record;
    return { ...rest, data: Buffer.from(record.data, 'base64') } as unknown as ProgressEvent;
  }
  return record as unknown as ProgressEvent;
}
