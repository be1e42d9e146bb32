// One remote build on the server: the request stream it came on, the calls
// the build makes back to the client while it runs (secrets, SSH agent
// connections), the outputs it streams back, and its cancellation. Nothing
// the client owns is written to the server's disk: secrets stay in memory,
// agent connections are proxied through a socket in a private directory.
import { randomBytes } from '../../runner-native/native-crypto.js';
import net from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import { encodeMessage } from '../remote/messages.js';
import type { ClientMessage, ServerMessage } from '../remote/protocol.js';
import { RemoteError } from '../remote/errors.js';

/** How long the client has to open a stream the server asked for. */
const CALLBACK_TIMEOUT_MS = 60_000;

export interface StreamedOutput {
  index: number;
  /** What the exporter writes; the client's request for the output reads it. */
  data: Readable;
  fetched: Promise<void>;
  markFetched(): void;
}

export class BuildSession {
  readonly id = randomBytes(12).toString('hex');
  readonly abort = new AbortController();
  readonly outputs = new Map<number, StreamedOutput>();
  private readonly secretWaits = new Map<number, { resolve(b: Buffer | undefined): void; reject(e: Error): void }>();
  private readonly sshWaits = new Map<number, (stream: ServerHttp2Stream) => void>();
  // Answers the context sync waits for (manifest, blobs-sent), by message type.
  private readonly replyWaits = new Map<string, { resolve(m: ClientMessage): void; reject(e: Error): void }>();
  private readonly agentServers: net.Server[] = [];
  private nextReq = 0;
  private agentDir: string | undefined;
  /** Messages sent since record() (the answer a memo keeps). */
  private recorded: ServerMessage[] | undefined;

  constructor(private readonly stream: ServerHttp2Stream, private readonly stateDir: string) {}

  send(message: ServerMessage): void {
    this.recorded?.push(message);
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.write(encodeMessage(message));
  }

  /** Keeps every message sent from now on; returns them. */
  record(): ServerMessage[] {
    return (this.recorded = []);
  }

  get canceled(): boolean {
    return this.abort.signal.aborted;
  }

  cancel(reason: string): void {
    if (!this.abort.signal.aborted) this.abort.abort(new RemoteError('REMOTE_UNREACHABLE', reason));
    for (const w of this.secretWaits.values()) w.reject(new RemoteError('REMOTE_UNREACHABLE', reason));
    this.secretWaits.clear();
    for (const w of this.replyWaits.values()) w.reject(new RemoteError('REMOTE_UNREACHABLE', reason));
    this.replyWaits.clear();
  }

  /** Sends `question` and waits for the client's message of type `answer`. */
  ask<T extends ClientMessage['type']>(question: ServerMessage, answer: T): Promise<Extract<ClientMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.canceled) return reject(new RemoteError('REMOTE_UNREACHABLE', 'build canceled'));
      this.replyWaits.set(answer, { resolve: resolve as (m: ClientMessage) => void, reject });
      this.send(question);
    });
  }

  /** A client message that answers ask(); false when nothing waits for it. */
  answer(m: ClientMessage): boolean {
    const w = this.replyWaits.get(m.type);
    if (!w) return false;
    this.replyWaits.delete(m.type);
    w.resolve(m);
    return true;
  }

  /** Asks the client for a secret's value (undefined: it has none); only held in memory. */
  getSecret(id: string): Promise<Buffer | undefined> {
    const reqId = ++this.nextReq;
    return new Promise<Buffer | undefined>((resolve, reject) => {
      if (this.canceled) return reject(new RemoteError('REMOTE_UNREACHABLE', 'build canceled'));
      this.secretWaits.set(reqId, { resolve, reject });
      this.send({ type: 'secret-request', reqId, id });
    });
  }

  /** The client's answer: the value, or undefined when it has none (the build then says which secret is missing). */
  answerSecret(reqId: number, data: Buffer | undefined): void {
    const w = this.secretWaits.get(reqId);
    if (!w) return;
    this.secretWaits.delete(reqId);
    w.resolve(data);
  }

  /**
   * A unix socket on this host that behaves like the client's SSH agent
   * `id`: every connection to it becomes a stream the client opens and
   * pipes to its own agent.
   */
  async agentSocket(id: string): Promise<string> {
    if (!this.agentDir) {
      this.agentDir = path.join(this.stateDir, `remote-ssh-${process.pid}-${this.id}`);
      await mkdir(this.agentDir, { recursive: true, mode: 0o700 });
    }
    const sock = path.join(this.agentDir, `${this.agentServers.length}.sock`);
    const server = net.createServer((conn) => {
      conn.on('error', () => undefined);
      const connId = ++this.nextReq;
      const timer = setTimeout(() => {
        this.sshWaits.delete(connId);
        conn.destroy();
      }, CALLBACK_TIMEOUT_MS);
      this.sshWaits.set(connId, (remote) => {
        clearTimeout(timer);
        remote.respond({ ':status': 200 });
        conn.pipe(remote);
        remote.pipe(conn);
        remote.on('close', () => conn.destroy());
        conn.on('close', () => remote.close());
      });
      this.send({ type: 'ssh-open', connId, id });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, resolve);
    });
    this.agentServers.push(server);
    return sock;
  }

  attachSsh(connId: number, stream: ServerHttp2Stream): boolean {
    const attach = this.sshWaits.get(connId);
    if (!attach) return false;
    this.sshWaits.delete(connId);
    attach(stream);
    return true;
  }

  /** Registers an output the client will fetch; resolves once it has. */
  addOutput(index: number, data: Readable): StreamedOutput {
    let markFetched!: () => void;
    const fetched = new Promise<void>((resolve) => (markFetched = resolve));
    const out = { index, data, fetched, markFetched };
    this.outputs.set(index, out);
    return out;
  }

  /** Resolves once the client has read every streamed output (or the build is canceled). */
  async outputsDone(): Promise<void> {
    const canceled = new Promise<void>((_, reject) => {
      if (this.canceled) reject(this.abort.signal.reason);
      this.abort.signal.addEventListener('abort', () => reject(this.abort.signal.reason), { once: true });
    });
    canceled.catch(() => undefined);
    await Promise.race([Promise.all([...this.outputs.values()].map((o) => o.fetched)), canceled]);
  }

  async close(): Promise<void> {
    for (const s of this.agentServers) s.close();
    if (this.agentDir) await rm(this.agentDir, { recursive: true, force: true });
  }
}
