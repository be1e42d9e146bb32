// Runs INSIDE a container's network namespace (started as
// `nsenter --net=/proc/<pid>/ns/net node port-forwarder.js`), so its
// 127.0.0.1 is the container's. The host side accepts TCP connections and
// hands each accepted socket over the IPC channel (file descriptor
// passing); this process connects it to 127.0.0.1:<port> and copies bytes
// both ways. When the host side goes away, so do we.
import net from 'node:net';

interface ForwardRequest {
  port: number;
}

function forward(client: net.Socket, port: number): void {
  const upstream = net.connect({ host: '127.0.0.1', port });
  const closeBoth = () => { client.destroy(); upstream.destroy(); };
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  client.pipe(upstream);
  upstream.pipe(client);
}

process.on('message', (msg: ForwardRequest, handle: unknown) => {
  if (handle instanceof net.Socket && Number.isInteger(msg?.port)) forward(handle, msg.port);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
