// The attach socket's framing, both ways: [type: u8][length: u32 BE][payload].
// A unix socket per supervised container, so `run -it`, `attach` and
// `start -a` can come and go while the container runs on.
import path from 'node:path';
import { DEFAULT_STATE_DIR } from '../../runner-native/index.js';

export const Frame = {
  /** client → server: bytes for the container's stdin; server → client: its stdout */
  Stdout: 0,
  Stderr: 1,
  /** client → server: "ROWS COLS" */
  Resize: 2,
  /** client → server: the client's stdin ended */
  StdinEnd: 3,
  /** server → client: JSON {exitCode, error?}; the last frame */
  Exit: 4,
} as const;
export type Frame = (typeof Frame)[keyof typeof Frame];

// Unix socket paths are limited to 108 bytes: a store deep in /tmp would not
// fit. Next to the sandbox state: /run/tsbuild, or the user's runtime dir
// when rootless (where a long home dir may still need a shorter name).
const SOCKET_DIR = path.join(path.dirname(DEFAULT_STATE_DIR), 'attach');

export function attachSocketPath(id: string): string {
  const full = path.join(SOCKET_DIR, `${id}.sock`);
  return full.length < 108 ? full : path.join(SOCKET_DIR, `${id.slice(0, 24)}.sock`);
}

export function encodeFrame(type: Frame, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames, whatever the chunking. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (type: Frame, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) break;
      const type = this.pending.readUInt8(0) as Frame;
      const payload = this.pending.subarray(5, 5 + length);
      this.pending = this.pending.subarray(5 + length);
      this.onFrame(type, payload);
    }
  }
}

export interface ExitReport {
  exitCode: number;
  error?: string;
}
