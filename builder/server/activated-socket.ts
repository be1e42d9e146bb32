// What a socket systemd handed over (socket activation, fd://N) is bound
// to, read from /proc: the policy for TCP off loopback (TLS required) must
// hold for sockets the server did not bind itself, and a server object
// must be chosen (plain or TLS) before the socket is adopted.
import { readFileSync, readlinkSync } from 'node:fs';
import { RemoteError } from '../remote/errors.js';

export type ActivatedAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix' };

export function activatedAddress(fd: number): ActivatedAddress {
  let link = '';
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    // Reported below: not an open socket.
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (!inode) throw new RemoteError('SERVE_CONFIG', `fd://${fd}: not a socket passed by systemd (${link || 'not open'})`);
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    let table = '';
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[9] !== inode) continue;
      const [hex, port] = f[1]!.split(':');
      return { kind: 'tcp', host: v6 ? ipv6(hex!) : ipv4(hex!), port: parseInt(port!, 16) };
    }
  }
  return { kind: 'unix' };
}

// /proc/net shows addresses as 32-bit words in host (little-endian) order.
function wordBytes(hex: string): number[] {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function ipv4(hex: string): string {
  return wordBytes(hex).join('.');
}

function ipv6(hex: string): string {
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  // An IPv4-mapped address is that IPv4 address, as far as loopback goes.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}
