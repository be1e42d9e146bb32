// The supervisor's end of the attach socket: every client sees the
// container's output from the moment it attaches; any client's input goes
// to the container's stdin (with -i) and its window size to the pty (with
// -t). A client that leaves (ctrl-p ctrl-q) changes nothing for the
// container. When the container ends, every client gets its exit code.
import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { encodeFrame, Frame, FrameReader, type ExitReport } from './attach-protocol.js';

export class AttachServer {
  /** what the container reads as stdin (with -i) */
  readonly stdin = new PassThrough();
  /** "ROWS COLS" lines for the pty (with -t) */
  readonly resize = new PassThrough();
  private readonly clients = new Set<net.Socket>();
  private firstClient: Promise<void>;
  private gotFirst!: () => void;

  private constructor(private readonly server: net.Server, private readonly socketPath: string) {
    this.firstClient = new Promise((resolve) => { this.gotFirst = resolve; });
    server.on('connection', (socket) => this.accept(socket));
  }

  static async listen(socketPath: string): Promise<AttachServer> {
    mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
    rmSync(socketPath, { force: true });
    const server = net.createServer();
    const attach = new AttachServer(server, socketPath);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return attach;
  }

  /** Resolves once someone attached (`run -it` starts the container only then, so no output is missed). */
  waitForClient(): Promise<void> {
    return this.firstClient;
  }

  private accept(socket: net.Socket): void {
    this.clients.add(socket);
    this.gotFirst();
    const reader = new FrameReader((type, payload) => {
      if (type === Frame.Stdout) this.stdin.write(payload);
      else if (type === Frame.Resize) this.resize.write(`${payload.toString()}\n`);
      else if (type === Frame.StdinEnd) this.stdin.end();
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.clients.delete(socket));
  }

  output(type: typeof Frame.Stdout | typeof Frame.Stderr, chunk: Buffer): void {
    const frame = encodeFrame(type, chunk);
    for (const c of this.clients) c.write(frame);
  }

  /** Tells every client how the container ended, and stops listening. */
  async close(report: ExitReport): Promise<void> {
    const frame = encodeFrame(Frame.Exit, JSON.stringify(report));
    await Promise.all([...this.clients].map((c) => new Promise<void>((resolve) => c.end(frame, () => resolve()))));
    this.server.close();
    rmSync(this.socketPath, { force: true });
    this.stdin.end();
    this.resize.end();
  }
}
