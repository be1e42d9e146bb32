// Server addresses, as docker writes them: unix:///path, tcp://host:port,
// ssh://[user@]host[:port]. The default socket follows docker's: under /run
// as root, under $XDG_RUNTIME_DIR otherwise.
import os from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';
import { RemoteError } from './errors.js';

export type Address =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'ssh'; user?: string; host: string; port: number };

export const DEFAULT_TCP_PORT = 8372;

export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/run/tsbuild/tsbuild.sock';
  const runtime = env.XDG_RUNTIME_DIR || path.join(os.tmpdir(), `tsbuild-${process.getuid?.() ?? 'user'}`);
  return path.join(runtime, 'tsbuild', 'tsbuild.sock');
}

export function parseAddress(value: string): Address {
  if (value.startsWith('unix://')) {
    const p = value.slice('unix://'.length);
    if (!p.startsWith('/')) throw new RemoteError('REMOTE_ADDRESS', `invalid address "${value}": a unix socket path must be absolute (unix:///path)`);
    return { kind: 'unix', path: p };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RemoteError('REMOTE_ADDRESS', `invalid address "${value}": expected unix:///path, tcp://host:port or ssh://[user@]host[:port]`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new RemoteError('REMOTE_ADDRESS', `invalid address "${value}": no host`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '') throw new RemoteError('REMOTE_ADDRESS', `invalid address "${value}": unexpected path or query`);
  if (url.protocol === 'tcp:') {
    if (url.username) throw new RemoteError('REMOTE_ADDRESS', `invalid address "${value}": tcp:// takes no user`);
    return { kind: 'tcp', host, port: url.port ? Number(url.port) : DEFAULT_TCP_PORT };
  }
  if (url.protocol === 'ssh:') {
    return { kind: 'ssh', user: url.username ? decodeURIComponent(url.username) : undefined, host, port: url.port ? Number(url.port) : 22 };
  }
  throw new RemoteError('REMOTE_ADDRESS', `invalid address "${value}": unsupported scheme "${url.protocol.replace(/:$/, '')}" (unix, tcp or ssh)`);
}

/** localhost, 127.0.0.0/8 and ::1: the only TCP addresses served without TLS. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

export function formatAddress(a: Address): string {
  if (a.kind === 'unix') return `unix://${a.path}`;
  const host = isIP(a.host) === 6 ? `[${a.host}]` : a.host;
  if (a.kind === 'tcp') return `tcp://${host}:${a.port}`;
  return `ssh://${a.user ? `${a.user}@` : ''}${host}${a.port === 22 ? '' : `:${a.port}`}`;
}
