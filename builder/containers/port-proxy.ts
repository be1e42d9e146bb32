// `-p HOST:CONTAINER`: tsbuild listens on the host port and forwards each
// connection into the container's network namespace.
//
// Why this shape: the container has its own network namespace, so a plain
// host-side proxy cannot reach its 127.0.0.1 or its ports. A helper
// process started with `nsenter --net=/proc/<pid>/ns/net` lives inside
// that namespace; the host listener passes every accepted socket to it over
// Node's IPC channel (SCM_RIGHTS), and it connects to 127.0.0.1:CONTAINER.
// This works for every network mode with its own namespace (none and
// private alike), needs no slirp4netns, no iptables and no socket files,
// and the listeners are bound BEFORE the container starts, so a port that
// is taken fails `run` cleanly, as in Docker. (slirp4netns' add_hostfwd
// would only work with slirp and only for servers bound to 0.0.0.0.)
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { inUserNamespace, packageRoot } from '../../runner-native/index.js';
import { ContainerError } from './errors.js';
import type { PortMapping } from './run-options.js';

// Runs inside the container's network namespace: always the compiled module.
const FORWARDER = join(packageRoot(), 'dist', 'builder', 'containers', 'port-forwarder.js');
const NSENTER = 'nsenter';
const READY_TIMEOUT_MS = 10_000;

export class PortProxy {
  private forwarder: ChildProcess | null = null;
  // connections accepted before the container (and its forwarder) is up
  private waiting: { socket: net.Socket; port: number }[] = [];
  private closed = false;
  private readonly udpSockets: dgram.Socket[] = [];
  /** where replies to a UDP client go: `containerPort|ip|port` → the host socket it wrote to */
  private readonly udpClients = new Map<string, { socket: dgram.Socket; address: string; port: number }>();

  private constructor(private readonly servers: net.Server[], readonly ports: PortMapping[]) {}

  /** Binds every host port now; throws (and binds nothing) when one is taken. */
  static async listen(mappings: PortMapping[]): Promise<PortProxy> {
    const servers: net.Server[] = [];
    const bound: PortMapping[] = [];
    const proxy = new PortProxy(servers, bound);
    try {
      for (const m of mappings) {
        if (m.protocol === 'udp') {
          const socket = dgram.createSocket(m.hostIp.includes(':') ? 'udp6' : 'udp4');
          proxy.udpSockets.push(socket);
          socket.on('message', (data, from) => proxy.datagram(m.containerPort, socket, data, from));
          socket.bind(m.hostPort, m.hostIp);
          await Promise.race([once(socket, 'listening'), once(socket, 'error').then(([err]) => { throw err; })]);
          bound.push({ ...m, hostPort: socket.address().port });
          continue;
        }
        const server = net.createServer({ pauseOnConnect: true }, (socket) => proxy.accept(socket, m.containerPort));
        servers.push(server);
        server.listen(m.hostPort, m.hostIp);
        await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err; })]);
        const address = server.address() as net.AddressInfo;
        bound.push({ ...m, hostPort: address.port });
      }
    } catch (err) {
      await proxy.close();
      const m = mappings[bound.length]!;
      // Rootless, the host's network namespace is not ours: low ports stay the host's.
      const hint = (err as NodeJS.ErrnoException).code === 'EACCES' && m.hostPort < 1024 && inUserNamespace()
        ? ` (rootless: publish a host port above 1023, or allow it with \`sudo sysctl -w net.ipv4.ip_unprivileged_port_start=${m.hostPort}\`)` : '';
      throw new ContainerError('START_FAILED', `cannot publish port ${m.hostIp}:${m.hostPort}: ${(err as Error).message}${hint}`);
    }
    return proxy;
  }

  /**
   * Starts the forwarder inside the network namespace of `pid` and lets the
   * waiting connections through. `containerId` only labels the process (ps).
   */
  async attach(pid: number, containerId: string): Promise<void> {
    if (this.closed) return;
    const child = spawn(NSENTER, [`--net=/proc/${pid}/ns/net`, '--', process.execPath, FORWARDER, containerId], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.forwarder = child;
    child.on('error', () => undefined);
    child.on('message', (msg: UdpReply) => {
      if (msg?.kind !== 'udp-reply') return;
      const client = this.udpClients.get(msg.client);
      client?.socket.send(Buffer.from(msg.data, 'base64'), client.port, client.address);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the port forwarder did not start')), READY_TIMEOUT_MS);
      child.once('message', () => { clearTimeout(timer); resolve(); });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the port forwarder exited with ${code}`)); });
    });
    for (const w of this.waiting.splice(0)) this.hand(w.socket, w.port);
  }

  /** A datagram for the container: the forwarder sends it from a socket of its own per client, and relays the replies. */
  private datagram(port: number, socket: dgram.Socket, data: Buffer, from: dgram.RemoteInfo): void {
    const child = this.forwarder;
    if (this.closed || !child?.connected) return; // UDP may drop: nobody is listening yet
    const client = `${port}|${from.address}|${from.port}`;
    this.udpClients.set(client, { socket, address: from.address, port: from.port });
    child.send({ kind: 'udp', port, client, data: data.toString('base64') });
  }

  private accept(socket: net.Socket, port: number): void {
    if (this.closed) socket.destroy();
    else if (this.forwarder?.connected) this.hand(socket, port);
    else this.waiting.push({ socket, port });
  }

  private hand(socket: net.Socket, port: number): void {
    const child = this.forwarder;
    if (!child?.connected) {
      socket.destroy();
      return;
    }
    // after a successful send the socket belongs to the forwarder; ours is closed by Node
    child.send({ port }, socket, (err) => { if (err) socket.destroy(); });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.socket.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    for (const u of this.udpSockets) u.close();
    const child = this.forwarder;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      // closing the channel is its signal to go; the kill is for a stuck one
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
  }
}

interface UdpReply {
  kind: 'udp-reply';
  client: string;
  data: string;
}

/** `0.0.0.0:8080->80/tcp`, as docker ps shows published ports. */
export function formatPorts(ports: PortMapping[]): string {
  return ports.map((p) => `${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}
