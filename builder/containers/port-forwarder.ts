// Runs INSIDE a container's network namespace (started as
// `nsenter --net=/proc/<pid>/ns/net node port-forwarder.js`), so its
// 127.0.0.1 is the container's. The host side accepts TCP connections and
// hands each accepted socket over the IPC channel (file descriptor
// passing); this process connects it to 127.0.0.1:<port> and copies bytes
// both ways. When the host side goes away, so do we.
import dgram from 'node:dgram';
import net from 'node:net';

interface ForwardRequest {
  port: number;
}

interface UdpRequest {
  kind: 'udp';
  port: number;
  client: string;
  data: string;
}

// one socket per host-side client, so the container's replies find their way back
const udpSessions = new Map<string, dgram.Socket>();

function forwardDatagram(msg: UdpRequest): void {
  let socket = udpSessions.get(msg.client);
  if (!socket) {
    const s = dgram.createSocket('udp4');
    s.on('message', (data) => process.send?.({ kind: 'udp-reply', client: msg.client, data: data.toString('base64') }));
    s.on('error', () => { s.close(); udpSessions.delete(msg.client); });
    s.connect(msg.port, '127.0.0.1');
    udpSessions.set(msg.client, s);
    socket = s;
    s.once('connect', () => s.send(Buffer.from(msg.data, 'base64')));
    return;
  }
  socket.send(Buffer.from(msg.data, 'base64'));
}

function forward(client: net.Socket, port: number): void {
  const upstream = net.connect({ host: '127.0.0.1', port });
  const closeBoth = () => { client.destroy(); upstream.destroy(); };
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  client.pipe(upstream);
  upstream.pipe(client);
}

process.on('message', (msg: ForwardRequest | UdpRequest, handle: unknown) => {
  if ((msg as UdpRequest)?.kind === 'udp') {
    forwardDatagram(msg as UdpRequest);
    return;
  }
  if (handle instanceof net.Socket && Number.isInteger(msg?.port)) forward(handle, msg.port);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
