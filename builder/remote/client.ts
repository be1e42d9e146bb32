// The client side of one connection to `tsbuild serve`: dials the
// transport, runs an HTTP/2 session over it, negotiates the protocol
// version and offers small helpers for the requests the commands make.
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { formatAddress, parseAddress, type Address } from './address.js';
import { RemoteError } from './errors.js';
import { errorOfAnswer, readAnswer } from './answers.js';
import { PATHS, PROTOCOL_HEADER, PROTOCOL_VERSIONS, type Hello } from './protocol.js';

export interface ConnectOptions {
  host: string;
  tls?: { ca?: string; cert?: string; key?: string };
  ssh?: { identityFiles?: string[]; acceptNewHostKey?: boolean; command?: string; knownHostsFile?: string };
}

// connect()'s promise → the connection as soon as its HTTP/2 session is up (see beforeHello).
const early = new WeakMap<Promise<RemoteConnection>, Promise<RemoteConnection>>();

/**
 * The connection of `connecting` as soon as its HTTP/2 session is up,
 * before the server answered the hello (its `hello` is then a placeholder,
 * protocol 0): for a request every server answers harmlessly, whatever
 * version it speaks (one an older server refuses as an unknown path).
 */
export function beforeHello(connecting: Promise<RemoteConnection>): Promise<RemoteConnection> {
  return early.get(connecting) ?? connecting;
}

export class RemoteConnection {
  private constructor(
    readonly address: Address,
    private readonly session: ClientHttp2Session,
    readonly hello: Hello,
    private readonly onClose: () => void,
  ) {}

  static connect(opts: ConnectOptions): Promise<RemoteConnection> {
    let session!: (c: RemoteConnection) => void;
    let failed!: (err: unknown) => void;
    const up = new Promise<RemoteConnection>((resolve, reject) => {
      session = resolve;
      failed = reject;
    });
    up.catch(() => undefined);
    const connecting = RemoteConnection.open(opts, session);
    connecting.catch(failed);
    early.set(connecting, up);
    return connecting;
  }

  private static async open(opts: ConnectOptions, sessionUp: (c: RemoteConnection) => void): Promise<RemoteConnection> {
    const address = parseAddress(opts.host);
    const { stream, close } = await dial(address, opts);
    const where = formatAddress(address);
    const session = http2.connect('http://tsbuild', { createConnection: () => stream as never });
    // Over TLS a refused client certificate shows up after the handshake,
    // as an alert or a closed connection: say what it most likely means.
    const hint = address.kind !== 'tcp' ? '' : opts.tls ? ' (is the client certificate, --tlscert, signed by the CA the server trusts?)' : ' (a TLS server? use --tlsverify with --tlscacert, --tlscert and --tlskey)';
    const failed = new Promise<never>((_, reject) => {
      session.once('error', (err) => reject(tlsAware(err, where)));
      session.once('close', () => reject(new RemoteError('REMOTE_UNREACHABLE', `the server at ${where} closed the connection${hint}`)));
    });
    failed.catch(() => undefined);
    const probe = new RemoteConnection(address, session, { server: '?', protocol: 0, protocols: [] }, close);
    sessionUp(probe);
    try {
      const hello = await Promise.race([probe.json<Hello>('GET', PATHS.hello).catch(async (err) => {
        // A request failing with the session: the session's own error says more.
        await Promise.race([failed, new Promise((r) => setTimeout(r, 100))]);
        throw tlsAware(err, where);
      }), failed]);
      return new RemoteConnection(address, session, hello, close);
    } catch (err) {
      probe.destroy();
      throw err;
    }
  }

  /** A request; the caller writes its body and reads the answer. */
  request(method: string, path: string, headers: Record<string, string> = {}): ClientHttp2Stream {
    return this.session.request({ ':method': method, ':path': path, [PROTOCOL_HEADER]: PROTOCOL_VERSIONS.join(','), ...headers });
  }

  /** A JSON request with a JSON answer; a non-2xx answer's message becomes a RemoteError. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const req = this.request(method, path, body === undefined ? {} : { 'content-type': 'application/json' });
    req.end(body === undefined ? undefined : JSON.stringify(body));
    const { status, text } = await readAnswer(req);
    if (status < 200 || status >= 300) throw errorOfAnswer(status, text);
    return JSON.parse(text) as T;
  }

  close(): void {
    this.session.close();
    this.onClose();
  }

  destroy(): void {
    this.session.destroy();
    this.onClose();
  }
}

function tlsAware(err: Error, where: string): Error {
  if (/alert certificate required/i.test(err.message)) return new RemoteError('REMOTE_AUTH', `the server at ${where} requires a client certificate (--tlscert and --tlskey)`);
  if (/alert (bad certificate|unknown ca|decrypt error)/i.test(err.message)) return new RemoteError('REMOTE_AUTH', `the server at ${where} refused the client certificate`);
  return err instanceof RemoteError ? err : new RemoteError('REMOTE_UNREACHABLE', `cannot talk to the server at ${where}: ${err.message}`);
}

async function dial(a: Address, opts: ConnectOptions): Promise<{ stream: Duplex; close(): void }> {
  const where = formatAddress(a);
  if (a.kind === 'ssh') {
    const { dialSsh } = await import('./ssh-dial.js');
    return dialSsh({ user: a.user, host: a.host, port: a.port, ...opts.ssh });
  }
  const socket = await new Promise<Duplex>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new RemoteError(err.code === 'ECONNRESET' || /certificate|alert|handshake/i.test(err.message) ? 'REMOTE_AUTH' : 'REMOTE_UNREACHABLE', `cannot connect to the server at ${where}: ${err.message}`));
    if (a.kind === 'unix') {
      const s = net.connect(a.path, () => resolve(s));
      s.once('error', onError);
      return;
    }
    if (!opts.tls) {
      const s = net.connect(a.port, a.host, () => resolve(s));
      s.once('error', onError);
      return;
    }
    const read = (f: string | undefined, what: string) => {
      if (!f) return undefined;
      try {
        return readFileSync(f);
      } catch (err) {
        throw new RemoteError('REMOTE_ADDRESS', `cannot read ${what} ${f}: ${(err as Error).message}`);
      }
    };
    const s = tls.connect({
      host: a.host, port: a.port, servername: net.isIP(a.host) ? undefined : a.host,
      ca: read(opts.tls.ca, '--tlscacert'), cert: read(opts.tls.cert, '--tlscert'), key: read(opts.tls.key, '--tlskey'),
      ALPNProtocols: ['h2'],
    }, () => resolve(s));
    s.once('error', onError);
  });
  return { stream: socket, close: () => socket.destroy() };
}
