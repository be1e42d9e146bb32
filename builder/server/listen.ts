// Where `tsbuild serve` listens. Secure by default: the unix socket is mode
// 0660 (group `tsbuild` when it exists, as docker's socket and its `docker`
// group), TCP off loopback needs TLS with client-certificate verification,
// and systemd socket activation (fd://) hands over sockets already bound.
import net from 'node:net';
import { chmod, chown, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Http2Server, Http2SecureServer } from 'node:http2';
import { formatAddress, isLoopbackHost, parseAddress } from '../remote/address.js';
import { RemoteError } from '../remote/errors.js';
import { createHttp2Server } from './server.js';
import type { ServerContext } from './server-context.js';
import { activatedAddress } from './activated-socket.js';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface Listener {
  address: string;
  server: Http2Server | Http2SecureServer;
}

/** Checks every address before any is opened: a bad one fails the whole start. */
export function checkListenAddresses(addrs: string[], tlsFiles: TlsFiles): void {
  const anyTls = tlsFiles.ca !== undefined || tlsFiles.cert !== undefined || tlsFiles.key !== undefined;
  if (anyTls && !(tlsFiles.ca && tlsFiles.cert && tlsFiles.key)) {
    throw new RemoteError('SERVE_CONFIG', 'TLS needs all of --tlscacert (to verify clients), --tlscert and --tlskey');
  }
  for (const a of addrs) {
    if (a.startsWith('fd://')) continue;
    const addr = parseAddress(a);
    if (addr.kind === 'ssh') throw new RemoteError('SERVE_CONFIG', `cannot listen on ${a}: ssh:// is a client address (the server side is "tsbuild serve --stdio")`);
    if (addr.kind === 'tcp' && !anyTls && !isLoopbackHost(addr.host)) {
      throw plainTcpRefused(`listen on ${formatAddress(addr)}`);
    }
  }
}

function plainTcpRefused(what: string): RemoteError {
  return new RemoteError('SERVE_CONFIG', `refusing to ${what} without TLS: anyone who can reach it could build and read images; pass --tlscacert, --tlscert and --tlskey (clients then need a certificate signed by that CA)`);
}

function readTls(files: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (f: string, flag: string) => {
    try {
      return readFileSync(f);
    } catch (err) {
      throw new RemoteError('SERVE_CONFIG', `cannot read ${flag} ${f}: ${(err as Error).message}`);
    }
  };
  return { ca: read(files.ca!, '--tlscacert'), cert: read(files.cert!, '--tlscert'), key: read(files.key!, '--tlskey') };
}

export async function listenAll(ctx: ServerContext, addrs: string[], tlsFiles: TlsFiles, group: string): Promise<Listener[]> {
  checkListenAddresses(addrs, tlsFiles);
  const tls = tlsFiles.ca ? readTls(tlsFiles) : undefined;
  const secure = tls ? { ...tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const } : undefined;
  const listeners: Listener[] = [];
  try {
    for (const a of addrs) {
      if (a.startsWith('fd://')) {
        listeners.push(...(await listenActivated(ctx, a, secure)));
        continue;
      }
      const addr = parseAddress(a);
      if (addr.kind === 'unix') {
        const server = createHttp2Server(ctx, false);
        await listenUnix(server, addr.path, group);
        listeners.push({ address: formatAddress(addr), server });
      } else if (addr.kind === 'tcp') {
        const server = createHttp2Server(ctx, !!secure, secure);
        await listen(server, { host: addr.host, port: addr.port });
        const bound = server.address() as net.AddressInfo;
        listeners.push({ address: formatAddress({ kind: 'tcp', host: addr.host, port: bound.port }), server });
      }
    }
  } catch (err) {
    for (const l of listeners) l.server.close();
    throw err;
  }
  return listeners;
}

function listen(server: net.Server, opts: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new RemoteError('SERVE_CONFIG', `cannot listen on ${opts.path ?? `${opts.host}:${opts.port}`}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
    server.listen(opts, () => resolve());
  });
}

async function listenUnix(server: net.Server, sockPath: string, group: string): Promise<void> {
  await mkdir(path.dirname(sockPath), { recursive: true, mode: 0o755 });
  if (await stat(sockPath).catch(() => null)) {
    // A socket left by a killed server is removed; a live server's is not taken over.
    const live = await new Promise<boolean>((resolve) => {
      const c = net.connect(sockPath, () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (live) throw new RemoteError('SERVE_CONFIG', `another server is already listening on unix://${sockPath}`);
    await rm(sockPath, { force: true });
  }
  await listen(server, { path: sockPath });
  await chmod(sockPath, 0o660);
  if (process.getuid?.() === 0) {
    const gid = await groupId(group);
    if (gid !== undefined) await chown(sockPath, 0, gid);
  }
}

async function groupId(name: string): Promise<number | undefined> {
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined) return Number(gid);
  }
  return undefined;
}

// systemd socket activation: LISTEN_FDS sockets starting at fd 3, for this
// pid. A TCP socket gets TLS when it is configured, as a tcp:// address
// does, and off loopback it must have it; all are checked before any is used.
async function listenActivated(ctx: ServerContext, addr: string, secure: Parameters<typeof createHttp2Server>[2]): Promise<Listener[]> {
  // TSBUILD_LISTEN_FDS: handed over by this user's tsbuild on its way into
  // the rootless user namespace (builder/cli/rootless.ts), same descriptors.
  const count = process.env.LISTEN_PID === String(process.pid) ? Number(process.env.LISTEN_FDS ?? 0) : Number(process.env.TSBUILD_LISTEN_FDS ?? 0);
  if (!(count > 0)) {
    throw new RemoteError('SERVE_CONFIG', `${addr}: no sockets were passed by systemd (LISTEN_FDS/LISTEN_PID unset)`);
  }
  const fds = Array.from({ length: count }, (_, i) => ({ fd: 3 + i, where: activatedAddress(3 + i) }));
  for (const { fd, where } of fds) {
    if (where.kind === 'tcp' && !secure && !isLoopbackHost(where.host)) {
      throw plainTcpRefused(`serve fd://${fd} (${formatAddress(where)})`);
    }
  }
  const out: Listener[] = [];
  for (const { fd, where } of fds) {
    const tls = where.kind === 'tcp' ? secure : undefined;
    const server = createHttp2Server(ctx, !!tls, tls);
    await listen(server, { fd } as net.ListenOptions);
    out.push({ address: `fd://${fd}`, server });
  }
  return out;
}
