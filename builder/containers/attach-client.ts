// The user's end of the attach socket (`run -it`, `attach`): the terminal
// in raw mode while attached (restored on every way out), window size
// changes forwarded, and docker's detach keys (ctrl-p ctrl-q) leaving the
// container running.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeFrame, Frame, FrameReader, type ExitReport } from './attach-protocol.js';
import { ContainerError } from './errors.js';
import { withRawTerminal } from './raw-terminal.js';

export interface AttachOptions {
  /** forward our stdin to the container */
  stdin: boolean;
  /** the container has a pty: raw mode and window sizes */
  tty: boolean;
  /** keep trying to connect this long (the supervisor may still be starting) */
  connectTimeoutMs?: number;
}

export type AttachOutcome = { kind: 'exited'; report: ExitReport } | { kind: 'detached' } | { kind: 'lost' };

const CTRL_P = 0x10;
const CTRL_Q = 0x11;

/** Finds docker's default detach sequence in the input; bytes of a sequence that did not complete are passed on. */
export class DetachKeys {
  private held = false;

  /** Returns the bytes to forward, and whether the sequence completed. */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.held) {
        this.held = false;
        if (byte === CTRL_Q) return { forward: Buffer.from(out), detach: true };
        out.push(CTRL_P);
      }
      if (byte === CTRL_P) this.held = true;
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

async function connect(socketPath: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(socketPath, () => resolve(s));
        s.once('error', reject);
      });
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new ContainerError('START_FAILED', `cannot attach to the container: ${(err as Error).message}`);
      }
      await sleep(20);
    }
  }
}

export async function attachToContainer(socketPath: string, opts: AttachOptions): Promise<AttachOutcome> {
  const socket = await connect(socketPath, opts.connectTimeoutMs ?? 10_000);
  const terminal = opts.tty && process.stdin.isTTY === true;
  return withRawTerminal(terminal, () => new Promise<AttachOutcome>((resolve) => {
    let outcome: AttachOutcome = { kind: 'lost' };
    const reader = new FrameReader((type, payload) => {
      if (type === Frame.Stdout) process.stdout.write(payload);
      else if (type === Frame.Stderr) process.stderr.write(payload);
      else if (type === Frame.Exit) outcome = { kind: 'exited', report: JSON.parse(payload.toString()) as ExitReport };
    });
    const sendSize = () => {
      if (process.stdout.rows && process.stdout.columns) socket.write(encodeFrame(Frame.Resize, `${process.stdout.rows} ${process.stdout.columns}`));
    };
    const keys = new DetachKeys();
    const onInput = (chunk: Buffer) => {
      const { forward, detach } = terminal ? keys.feed(chunk) : { forward: chunk, detach: false };
      if (forward.length > 0) socket.write(encodeFrame(Frame.Stdout, forward));
      if (detach) {
        outcome = { kind: 'detached' };
        socket.end();
      }
    };
    const onInputEnd = () => socket.write(encodeFrame(Frame.StdinEnd));
    const cleanup = () => {
      process.stdout.off('resize', sendSize);
      process.stdin.off('data', onInput);
      process.stdin.off('end', onInputEnd);
      process.stdin.pause();
    };
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => { cleanup(); resolve(outcome); });
    if (opts.tty) {
      sendSize();
      process.stdout.on('resize', sendSize);
    }
    if (opts.stdin) {
      process.stdin.on('data', onInput);
      process.stdin.on('end', onInputEnd);
      process.stdin.resume();
    }
  }));
}
